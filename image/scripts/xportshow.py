# xportshow.py: sockets of the crashed kernel, like PyKdump's xportshow / netstat.
#   -a  all sockets (listening ones too)     -l  listening sockets only
#   -t  TCP   -u  UDP   -w  RAW   -x  UNIX    (none of them: every protocol)
#   -v  verbose: the sock address, listen queues, socket inode
#   --summary  counts per protocol and state, and when each interface last moved data
# Walks the kernel's own hash tables (tcp ehash/lhash2, udp_table, raw_v4/v6_hashinfo, the
# unix table) with field names looked up at run time, so one script serves 5.10 to 7.x.
# Raw sockets are never "listening": -a and the default view show them, -l does not.

AF_INET = 2
AF_INET6 = 10
TCP_STATES = ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
              "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
              "NEW_SYN_RECV"]
UNIX_TYPES = {1: "STREAM", 2: "DGRAM", 5: "SEQPACKET"}
# The IP protocol a raw socket receives (its local "port"), as /etc/protocols names it.
IP_PROTOCOLS = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 58: "icmpv6",
                89: "ospf", 112: "vrrp", 132: "sctp", 255: "raw"}

opts = set(argv[1:])
unknown = opts - {"-a", "-l", "-t", "-u", "-w", "-x", "-v", "--summary"}
if unknown:
    print("usage: xportshow.py [-a|-l] [-t] [-u] [-w] [-x] [-v] [--summary]")
    print("unknown option(s):", " ".join(sorted(unknown)))
    exit(2)
protos = {p for p, flag in (("tcp", "-t"), ("udp", "-u"), ("raw", "-w"), ("unix", "-x"))
          if flag in opts}
if not protos:
    protos = {"tcp", "udp", "raw", "unix"}
verbose = "-v" in opts
init_net = readSymbol("init_net")


def ipv4(word):
    return "%d.%d.%d.%d" % (word & 0xff, (word >> 8) & 0xff, (word >> 16) & 0xff, word >> 24)


def ipv6(raw):
    words = [raw[i] << 8 | raw[i + 1] for i in range(0, 16, 2)]
    best, run = (0, 0), (0, 0)
    for i, w in enumerate(words):
        if w == 0:
            run = (i, 1) if run[1] == 0 else (run[0], run[1] + 1)
            if run[1] > best[1]:
                best = run
        else:
            run = (0, 0)
    text = lambda ws: ":".join("%x" % w for w in ws)
    if best[1] < 2:
        return text(words)
    return text(words[:best[0]]) + "::" + text(words[best[0] + best[1]:])


def endpoint(sk, family, local):
    if local:
        port = sk.skc_num
    else:
        port = ((sk.skc_dport & 0xff) << 8) | (sk.skc_dport >> 8)
    if family == AF_INET6:
        field = sk.skc_v6_rcv_saddr if local else sk.skc_v6_daddr
        return "[%s]:%d" % (ipv6(readmem(Addr(field), 16)), port)
    return "%s:%d" % (ipv4(sk.skc_rcv_saddr if local else sk.skc_daddr), port)


def inet(sk, proto, out):
    family = sk.skc_family
    if family != AF_INET and family != AF_INET6:
        return
    state = sk.skc_state
    if proto == "udp" or proto == "raw":
        name = "ESTABLISHED" if state == 1 else "UNCONN"
    else:
        name = TCP_STATES[state] if state < len(TCP_STATES) else "?"
    entry = {"proto": proto + ("6" if family == AF_INET6 else ""), "sk": sk,
             "local": endpoint(sk, family, True), "remote": endpoint(sk, family, False),
             "state": name, "ipproto": ""}
    if proto == "raw":
        entry["ipproto"] = IP_PROTOCOLS.get(sk.skc_num, str(sk.skc_num))
    out.append(entry)


def tcp(out):
    if has_member("struct net", "ipv4.tcp_death_row.hashinfo") and \
            member(init_net, "ipv4.tcp_death_row.hashinfo") is not None:
        h = member(init_net, "ipv4.tcp_death_row.hashinfo")
    else:
        h = readSymbol("tcp_hashinfo")
    bucket = "struct inet_listen_hashbucket"
    size = sizeof(bucket)
    if has_member(bucket, "nulls_head") and not has_member(bucket, "head"):
        heads = hash_chains(Addr(h.lhash2) + offsetof(bucket, "nulls_head"), h.lhash2_mask + 1, size, True)
        for head in heads:
            for sk in hlist_nulls_for_each_entry("struct sock_common", head, "skc_nulls_node"):
                inet(sk, "tcp", out)
    else:
        heads = hash_chains(Addr(h.lhash2) + offsetof(bucket, "head"), h.lhash2_mask + 1, size)
        for head in heads:
            for icsk in hlist_for_each_entry("struct inet_connection_sock", head, "icsk_listen_portaddr_node"):
                inet(icsk.castTo("struct sock_common"), "tcp", out)
    heads = hash_chains(Addr(h.ehash), h.ehash_mask + 1, sizeof("struct inet_ehash_bucket"), True)
    for head in heads:
        for sk in hlist_nulls_for_each_entry("struct sock_common", head, "skc_nulls_node"):
            inet(sk, "tcp", out)


def udp(out):
    table = member(init_net, "ipv4.udp_table") if has_member("struct net", "ipv4.udp_table") else None
    if table is None:
        table = readSymbol("udp_table")
    for head in hash_chains(Addr(table.hash), table.mask + 1, sizeof("struct udp_hslot")):
        for sk in hlist_for_each_entry("struct sock_common", head, "skc_node"):
            inet(sk, "udp", out)


def raw(out):
    # struct raw_hashinfo: 256 chains of hlist_head (to 5.19, and again after a fix that
    # 6.1 stable has) or of hlist_nulls_head (6.0 until that fix); the node is the same
    # sock_common union member either way.
    for symbol in ("raw_v4_hashinfo", "raw_v6_hashinfo"):
        try:
            h = readSymbol(symbol)
        except LookupError:
            if symbol == "raw_v4_hashinfo":
                raise
            continue  # IPv6 built as a module: its table is not a kernel symbol
        first = member(h, "ht[0]")
        nulls = "hlist_nulls_head" in first.typeName()
        entries = hlist_nulls_for_each_entry if nulls else hlist_for_each_entry
        node = "skc_nulls_node" if nulls else "skc_node"
        for head in hash_chains(Addr(first), len(h.ht), sizeof(first.typeName()), nulls):
            for sk in entries("struct sock_common", head, node):
                inet(sk, "raw", out)


def unix(out):
    if has_member("struct net", "unx.table.buckets"):
        base = Addr(member(init_net, "unx.table.buckets"))
    else:
        base = sym2addr("unix_socket_table")
    for head in hash_chains(base, 512, 8):
        for sk in hlist_for_each_entry("struct sock", head, "__sk_common.skc_node"):
            u = sk.castTo("struct unix_sock")
            path = ""
            if u.addr is not None:
                length = max(2, min(110, u.addr.len))
                # name is a flexible array (struct sockaddr_un name[]): its address, past
                # sun_family, holds the path.
                name_at = Addr(u.addr) + offsetof("struct unix_address", "name")
                raw = readmem(name_at + 2, length - 2)
                if len(raw) and raw[0] == 0:
                    path = "@" + raw[1:].decode()
                else:
                    path = raw.decode().split("\x00")[0]
            state = {10: "LISTENING", 1: "CONNECTED", 7: "UNCONNECTED"}.get(sk.__sk_common.skc_state, "?")
            out.append({"proto": "unix", "sk": sk, "local": path, "remote": "", "state": state,
                        "type": UNIX_TYPES.get(sk.sk_type, "?")})


socks = []
for name, walk in (("tcp", tcp), ("udp", udp), ("raw", raw), ("unix", unix)):
    if name in protos:
        try:
            walk(socks)
        except DumpError as e:
            print("xportshow: %s table: %s" % (name, e))

listening = lambda s: s["state"] in ("LISTEN", "LISTENING") or (s["proto"].startswith("udp") and s["state"] == "UNCONN")
if "-l" in opts:
    shown = [s for s in socks if listening(s)]
elif "-a" in opts or "--summary" in opts:
    shown = socks
else:
    shown = [s for s in socks if not listening(s)]

if "--summary" in opts:
    counts = {}
    for s in shown:
        key = s["proto"] + " " + s["state"]
        counts[key] = counts.get(key, 0) + 1
    print("SOCKETS BY STATE")
    for key in sorted(counts):
        print("  %-24s %d" % (key, counts[key]))
    print("INTERFACES (seconds since last receive / transmit)")
    for i in section("net")["interfaces"] or []:
        ago = lambda v: "n/a" if v is None else "%.1f" % v
        print("  %-10s %-5s rx %-8s tx %-8s %s" % (i["name"], "UP" if i["up"] else "DOWN",
              ago(i["last_rx_secs"]), ago(i["last_tx_secs"]), " ".join(i["ipv4"])))
    exit(0)

inet_shown = [s for s in shown if s["proto"] != "unix"]
if inet_shown:
    print("Proto  Local Address            Foreign Address          State" + ("        Sock" if verbose else ""))
    for s in inet_shown:
        line = "%-6s %-24s %-24s %-12s %s" % (s["proto"], s["local"], s["remote"], s["state"],
                                              s["ipproto"])
        if verbose:
            sk = s["sk"].castTo("struct sock")
            line += " %#x" % Addr(sk)
            if s["state"] == "LISTEN":
                line += " backlog %d/%d" % (sk.sk_ack_backlog, sk.sk_max_ack_backlog)
        print(line.rstrip())
unix_shown = [s for s in shown if s["proto"] == "unix"]
if unix_shown:
    print("Proto  Type       State         Path" + ("                     Sock" if verbose else ""))
    for s in unix_shown:
        line = "unix   %-10s %-13s %s" % (s["type"], s["state"], s["local"])
        if verbose:
            line = "%-60s %#x" % (line, Addr(s["sk"]))
        print(line.rstrip())
