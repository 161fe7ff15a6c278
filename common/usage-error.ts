/** The user asked for something we cannot do (bad flag, unreadable file, refused host): every CLI
 * prints its message on one line and exits 2, without a stack trace. */
export class UsageError extends Error {
  override readonly name: string = "UsageError";
}
