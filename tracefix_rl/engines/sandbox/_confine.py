"""Kernel confinement primitives, via raw syscalls through ctypes: prctl, namespaces and mounts,
Landlock, seccomp.

Everything here is x86_64 Linux specific where syscall numbers matter; on other machines the
probes report the feature as unavailable instead of guessing numbers. Nothing in this module
allocates per job beyond a few small ctypes structures, so it is cheap to call in a fork child.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import platform
import struct
from collections.abc import Iterable

__all__ = [
    "SeccompProgram",
    "build_seccomp_program",
    "drop_capabilities",
    "enter_private_root",
    "landlock_abi",
    "landlock_restrict",
    "prctl",
    "seccomp_available",
    "set_child_subreaper",
    "set_no_new_privs",
    "set_pdeathsig",
]

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]

_X86_64 = platform.machine() in ("x86_64", "AMD64")

PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """Call ``prctl(2)``; raise :class:`OSError` on failure."""
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


def set_pdeathsig(sig: int) -> None:
    """Have the kernel send ``sig`` to this process when its parent thread exits."""
    prctl(PR_SET_PDEATHSIG, sig)


def set_child_subreaper() -> None:
    """Make orphaned descendants of this process reparent to it (so it can reap them)."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_no_new_privs() -> None:
    """Set ``no_new_privs`` (required for unprivileged Landlock and seccomp)."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


_SYS_CAPSET = 126
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def drop_capabilities() -> None:
    """Clear this process's effective, permitted and inheritable capability sets.

    For a job that still runs as uid 0 (no slot uid available): with ``no_new_privs`` and no
    ``execve``, nothing can give them back.
    """
    header = ctypes.create_string_buffer(struct.pack("<Ii", _LINUX_CAPABILITY_VERSION_3, 0), 8)
    data = ctypes.create_string_buffer(24)  # two zeroed {effective, permitted, inheritable}
    _check(_libc.syscall(_SYS_CAPSET, header, data), "capset")


# --------------------------------------------------------------------------------------------
# Namespaces and the private root
# --------------------------------------------------------------------------------------------

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2
_SYS_PIVOT_ROOT = 155

#: Device nodes bind-mounted into the private root (the only host files a job can reach).
DEVICES = ("null", "zero", "urandom", "random")
#: Hostname every job sees (``socket.gethostname()``, ``platform.node()``).
HOSTNAME = "sandbox"


def unshare(flags: int) -> None:
    """Call ``unshare(2)``; raise :class:`OSError` on failure."""
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """Call ``mount(2)``; raise :class:`OSError` on failure."""
    enc = (lambda v: v.encode() if v is not None else None)  # noqa: E731
    _check(_libc.mount(enc(source), target.encode(), enc(fstype), flags, enc(data)), f"mount {target}")


def umount(target: str) -> None:
    """Lazily detach the mount at ``target`` (``MNT_DETACH``); raise :class:`OSError` on failure."""
    _check(_libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


def enter_private_root(mountpoint: str, *, user: bool) -> list[str]:
    """Move this process into new namespaces whose whole filesystem is an empty tmpfs.

    Creates mount, IPC, UTS, network and cgroup namespaces (and first a user namespace that
    maps only the caller's own uid and gid, when ``user``: the unprivileged way in), mounts a
    small tmpfs on ``mountpoint`` holding ``/dev/{null,zero,urandom,random}`` (bind mounts of
    the host's) and an empty ``/work``, pivots into it, detaches the host's tree, makes the
    new root read-only and sets the hostname to :data:`HOSTNAME`. Afterwards no host path
    exists for this process or its children, SysV/POSIX IPC objects live in a namespace that
    dies with it, and the network namespace is empty.

    Everything the process needs from the host (modules, libraries) must be loaded before.
    Returns the names of the namespaces entered. Raises :class:`OSError` if a step fails
    before the pivot (then the process may be in new, still host-backed namespaces).
    """
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWCGROUP
    unshare(flags | (CLONE_NEWUSER if user else 0))
    names = ["mount", "ipc", "uts", "net", "cgroup"]
    if user:
        names.insert(0, "user")
        for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"{uid} {uid} 1"),
                           ("/proc/self/gid_map", f"{gid} {gid} 1")):
            with open(path, "w") as fh:
                fh.write(text)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", mountpoint, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=64,mode=0755")
    os.mkdir(os.path.join(mountpoint, "dev"), 0o755)
    for name in DEVICES:
        node = os.path.join(mountpoint, "dev", name)
        os.close(os.open(node, os.O_CREAT | os.O_WRONLY, 0o666))
        mount(f"/dev/{name}", node, None, MS_BIND)
    os.mkdir(os.path.join(mountpoint, "work"), 0o755)
    os.mkdir(os.path.join(mountpoint, ".old"), 0o700)
    _check(_libc.syscall(_SYS_PIVOT_ROOT, mountpoint.encode(), os.path.join(mountpoint, ".old").encode()),
           "pivot_root")
    os.chdir("/")
    try:  # the host directory that served as mount point is empty again: remove it
        os.rmdir("/.old" + mountpoint)
    except OSError:
        pass
    umount("/.old")
    os.rmdir("/.old")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    hostname = HOSTNAME.encode()
    _check(_libc.sethostname(hostname, len(hostname)), "sethostname")
    return names


# --------------------------------------------------------------------------------------------
# Landlock
# --------------------------------------------------------------------------------------------

_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ_RIGHTS = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR


def landlock_abi() -> int:
    """Return the kernel's Landlock ABI version, or 0 when Landlock is unavailable."""
    if not _X86_64:
        return 0
    ret = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                        ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    return int(ret) if ret > 0 else 0


def fs_rights(abi: int) -> int:
    """Every filesystem access right the given ABI knows (requesting unknown ones fails)."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def landlock_restrict(abi: int, read_fds: Iterable[tuple[int, bool]], write_fd: int,
                      file_rw_fds: Iterable[int] = ()) -> None:
    """Confine this process: read-only beneath ``read_fds``, full access beneath ``write_fd``.

    ``read_fds`` are ``(O_PATH fd, is_directory)`` pairs; ``file_rw_fds`` are O_PATH fds of
    single files that may also be written (``/dev/null``). With ABI >= 4 all TCP bind and
    connect is denied, and with ABI >= 6 signals and abstract unix sockets are scoped to the
    domain. The caller must have set ``no_new_privs`` (or hold CAP_SYS_ADMIN).
    """
    handled = fs_rights(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    attr = ctypes.create_string_buffer(struct.pack("<QQQ", handled, net, scoped)[:size], size)
    ruleset = _check(_libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, attr, ctypes.c_size_t(size),
                                   ctypes.c_uint32(0)), "landlock_create_ruleset")
    try:
        def add(fd: int, rights: int) -> None:
            rule = ctypes.create_string_buffer(struct.pack("<Qi", rights, fd), 12)
            _check(_libc.syscall(_SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset),
                                 ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH), rule, ctypes.c_uint32(0)),
                   "landlock_add_rule")

        for fd, is_dir in read_fds:
            add(fd, READ_RIGHTS & handled if is_dir else (FS_READ_FILE | FS_EXECUTE) & handled)
        for fd in file_rw_fds:
            add(fd, (FS_READ_FILE | FS_WRITE_FILE) & handled)
        add(write_fd, handled)
        _check(_libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)),
               "landlock_restrict_self")
    finally:
        os.close(ruleset)


# --------------------------------------------------------------------------------------------
# seccomp: a hand-assembled classic-BPF program (no libseccomp needed at run time)
# --------------------------------------------------------------------------------------------

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_CLONE_THREAD = 0x00010000

#: Syscalls that fail with EPERM inside a job (x86_64 numbers). Process creation is among
#: them, so fork bombs, ``subprocess`` and ``os.system`` fail; threads stay possible (clone
#: with CLONE_THREAD) and are bounded by RLIMIT_NPROC (per-slot uid) and RLIMIT_AS. So are
#: SysV and POSIX IPC (nothing a job creates may outlive it or reach another session) and
#: ``memfd_create`` (memory outside RLIMIT_AS).
DENIED_SYSCALLS: dict[str, int] = {
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_getfd": 438,
    "kcmp": 312,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "keyctl": 250, "add_key": 248, "request_key": 249,
    "init_module": 175, "finit_module": 313, "delete_module": 176,
    "kexec_load": 246, "kexec_file_load": 320, "reboot": 169, "swapon": 167, "swapoff": 168,
    "acct": 163, "quotactl": 179, "name_to_handle_at": 303, "open_by_handle_at": 304,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "personality": 135, "lookup_dcookie": 212, "syslog": 103,
    "iopl": 172, "ioperm": 173, "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305,
    "adjtimex": 159, "sethostname": 170, "setdomainname": 171, "vhangup": 153,
    # SysV and POSIX IPC: objects that would outlive the job and be shared between sessions
    "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66,
    "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71,
    "mq_open": 240, "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244,
    "mq_getsetattr": 245,
    # anonymous memory files are not counted by RLIMIT_AS
    "memfd_create": 319, "memfd_secret": 447,
}
_SYS_SOCKET = 41
_SYS_CLONE = 56
_SYS_CLONE3 = 435


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class SeccompProgram:
    """A compiled seccomp filter, built once (in the fork-server) and loaded per job.

    The filter kills the process for any non-x86_64 or x32 syscall, makes ``socket()`` fail
    with EACCES for every address family (no inet, packet, netlink or unix sockets), makes
    ``clone3`` fail with ENOSYS (so glibc falls back to ``clone``, whose flags can be checked),
    allows ``clone`` only with CLONE_THREAD, and fails :data:`DENIED_SYSCALLS` with EPERM.
    """

    def __init__(self, code: bytes) -> None:
        self.code = code
        self._buf = ctypes.create_string_buffer(code, len(code))
        self._prog = _SockFprog(len(code) // 8, ctypes.cast(self._buf, ctypes.c_void_p))

    @property
    def instructions(self) -> int:
        """Number of BPF instructions."""
        return len(self.code) // 8

    def load(self) -> None:
        """Install the filter on the calling thread (``no_new_privs`` must already be set)."""
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(self._prog))


def build_seccomp_program() -> SeccompProgram:
    """Assemble the job filter described in :class:`SeccompProgram`."""
    if not _X86_64:
        raise OSError(_errno.ENOSYS, "seccomp filter is only assembled for x86_64")
    eperm = _RET_ERRNO | _errno.EPERM
    prog = [
        _insn(_LD_W_ABS, 0, 0, 4),  # arch
        _insn(_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        _insn(_RET_K, 0, 0, _RET_KILL_PROCESS),
        _insn(_LD_W_ABS, 0, 0, 0),  # syscall number
        _insn(_JGE_K, 0, 1, _X32_SYSCALL_BIT),
        _insn(_RET_K, 0, 0, _RET_KILL_PROCESS),
        _insn(_JEQ_K, 0, 1, _SYS_SOCKET),
        _insn(_RET_K, 0, 0, _RET_ERRNO | _errno.EACCES),
        _insn(_JEQ_K, 0, 1, _SYS_CLONE3),
        _insn(_RET_K, 0, 0, _RET_ERRNO | _errno.ENOSYS),
    ]
    for nr in sorted(set(DENIED_SYSCALLS.values())):
        prog.append(_insn(_JEQ_K, 0, 1, nr))
        prog.append(_insn(_RET_K, 0, 0, eperm))
    prog += [
        _insn(_JEQ_K, 0, 4, _SYS_CLONE),
        _insn(_LD_W_ABS, 0, 0, 16),  # low 32 bits of args[0] (clone flags)
        _insn(_JSET_K, 1, 0, _CLONE_THREAD),
        _insn(_RET_K, 0, 0, eperm),
        _insn(_RET_K, 0, 0, _RET_ALLOW),
        _insn(_RET_K, 0, 0, _RET_ALLOW),
    ]
    return SeccompProgram(b"".join(prog))


def seccomp_available() -> bool:
    """Whether this kernel accepts seccomp filters (probed in a throwaway fork)."""
    if not _X86_64:
        return False
    try:
        program = build_seccomp_program()
    except OSError:
        return False
    pid = os.fork()
    if pid == 0:
        try:
            set_no_new_privs()
            program.load()
            try:
                os.fork()
            except PermissionError:
                os._exit(0)
            os._exit(2)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0
