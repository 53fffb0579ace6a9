"""The process's resident memory, as the memory benchmarks measure it
(Linux): compare.py's memory subprocess and asv's BinSeedingMemory."""


def vm_status():
    """VmRSS and VmHWM of this process, in bytes (/proc/self/status)."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0]) * 1024
    return out


def reset_peak():
    """Reset VmHWM to the current RSS (/proc/self/clear_refs); OSError
    where the kernel does not allow it."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
