// The shared wire layer: smtpscript, storm and monkey speak SMTP only through these.
export * from "./errors.js";
export * from "./line-reader.js";
export * from "./reply.js";
export * from "./capabilities.js";
export * from "./message.js";
export * from "./transcript.js";
export * from "./session.js";
export * from "./outcome.js";
export * from "./transaction.js";
export * from "./traffic.js";
