import { test } from "node:test";
import assert from "node:assert/strict";
import { networkPeers, isLoopbackOrAny } from "../../targets/process/strace.js";

test("networkPeers finds addressed peers and ignores interface listings and unix sockets", () => {
  const trace = [
    '101 connect(5, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0',
    '101 sendto(5, "\\x12", 30, MSG_NOSIGNAL, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = 30',
    '102 bind(6, {sa_family=AF_INET, sin_port=htons(2525), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
    '103 recvmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0}, msg_iov=[{iov_base=[inet_addr("192.0.2.2")]}]}, 0) = 396',
    '104 connect(7, {sa_family=AF_UNIX, sun_path="/run/smtpd.sock"}, 110) = 0',
    '105 accept4(4, {sa_family=AF_INET, sin_port=htons(40000), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_CLOEXEC) = 9',
  ].join("\n");
  const peers = networkPeers(trace);
  assert.deepEqual(peers, ["10.255.255.53", "2001:db8::1", "127.0.0.1"]);
  assert.deepEqual(peers.filter((a) => !isLoopbackOrAny(a)), ["10.255.255.53", "2001:db8::1"]);
});
