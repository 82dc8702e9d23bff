# expect: crashed
# reason: refused: name_to_handle_at ok, open_by_handle_at EPERM
# open_by_handle_at opens a file from a handle, without the path walk that the sandbox's view of the filesystem
# relies on (the "shocker" container escape guessed handles of the host's files). Refused (x86_64 numbers).
import ctypes
import errno
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
AT_FDCWD = -100


def run():
    handle = ctypes.create_string_buffer(8 + 128)
    ctypes.memmove(handle, (128).to_bytes(4, "little"), 4)  # handle_bytes
    mount_id = ctypes.c_int()
    path = os.path.abspath(__file__ if "__file__" in globals() else ".").encode()
    if libc.syscall(303, AT_FDCWD, path, handle, ctypes.byref(mount_id), 0) != 0:
        raise OSError(ctypes.get_errno(), "name_to_handle_at failed")
    fd = libc.syscall(304, AT_FDCWD, handle, os.O_RDONLY)
    if fd >= 0:
        return 0
    raise PermissionError("refused: name_to_handle_at ok, open_by_handle_at " + errno.errorcode[ctypes.get_errno()])
