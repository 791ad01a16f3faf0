# crashinfo.py: the first look at a crash, like PyKdump's crashinfo. Builds on the report's
# own sections (section("sys"), section("panic"), …) and adds checks of its own: tasks
# stuck in D state, a lockup-prone run queue, memory nearly exhausted, the taint flags
# spelled out, and what the panicking CPU was running.

TAINT = "PFSRMBUDAWCIOELKXTN"  # kernel/panic.c taint_flags, bit 0 first
warnings = []


def kib(v):
    return "n/a" if v is None else "%.1f MiB" % (v / 1024)


sysinfo = section("sys") or {}
print("RELEASE   %s (%s)" % (sysinfo.get("release"), kernel_release()))
print("NODENAME  %s" % sysinfo.get("nodename"))
print("CPUS      %s (online %s)" % (sysinfo.get("cpus"), sysinfo.get("cpus_online")))
uptime = sysinfo.get("uptime_secs")
if uptime is not None:
    print("UPTIME    %dd %02d:%02d:%02d" % (uptime // 86400, uptime % 86400 // 3600,
                                          uptime % 3600 // 60, uptime % 60))
load = sysinfo.get("load_avg") or []
print("LOAD AVG  %s" % " ".join("%.2f" % v for v in load))

panic = section("panic") or {}
print("PANIC     %s" % (panic.get("message") or "(no panic message in the log)"))
if panic.get("pid") is not None:
    print("          on cpu %s, pid %s (%s)" % (panic.get("cpu"), panic.get("pid"), panic.get("comm")))

# Own check: the taint flags, letter by letter, from tainted_mask.
try:
    mask = readSymbol("tainted_mask")
    letters = "".join(TAINT[b] for b in range(len(TAINT)) if mask >> b & 1)
    print("TAINTED   %s (%#x)" % (letters or "no", mask))
    if mask >> 12 & 1:
        warnings.append("out-of-tree module loaded (taint O)")
    if mask >> 9 & 1:
        warnings.append("a WARN() fired before the crash (taint W)")
except DumpError as e:
    print("TAINTED   unknown (%s)" % e)

tasks = section("ps") or []
states = {}
for t in tasks:
    states[t["state"]] = states.get(t["state"], 0) + 1
print("TASKS     %d: %s" % (len(tasks), ", ".join("%s %d" % (k, states[k]) for k in sorted(states))))

# Own check: tasks in uninterruptible sleep, with what they wait in (their wchan-ish
# symbol is not needed: the comm and pid tell the support engineer where to look).
blocked = [t for t in tasks if t["state"] == "D"]
for t in blocked[:10]:
    print("          D  %6d %-16s %s" % (t["pid"], t["comm"], t["task"]))
if len(blocked) > 0:
    warnings.append("%d task(s) in uninterruptible sleep (D)" % len(blocked))

mem = section("mem") or {}
total, free = mem.get("total_kib"), mem.get("free_kib")
print("MEMORY    total %s, free %s, page cache %s, slab %s" % (
    kib(total), kib(free), kib(mem.get("page_cache_kib")), kib(mem.get("slab_kib"))))
if total and free is not None and free * 100 < total * 2:
    warnings.append("free memory below 2%% of total (%s)" % kib(free))

# Own check: run queues, the busiest first; a long one hints at a lockup.
for q in sorted(section("runq") or [], key=lambda q: -q["nr_running"])[:nr_cpus()]:
    print("RUNQ      cpu %-3d %3d running, current %s (%d)" % (
        q["cpu"], q["nr_running"], q["curr_comm"], q["curr_pid"]))
    if q["nr_running"] > 8:
        warnings.append("cpu %d has %d runnable tasks" % (q["cpu"], q["nr_running"]))

for w in section("warnings") or []:
    warnings.append("%s: %s" % (w["check"], w["message"]))
print("WARNINGS  %d" % len(warnings))
for w in warnings:
    print("  - " + w)
