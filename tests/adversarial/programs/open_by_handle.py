# expect: crashed
# reason: refused: open_by_handle_at EPERM
# open_by_handle_at opens a file from a handle, without the path walk that the sandbox's view of the filesystem
# relies on: the "shocker" container escape forged handles of the host's files (inode 2: a filesystem's root
# directory). Refused by the syscall filter, and the candidate lacks CAP_DAC_READ_SEARCH (x86_64 numbers).
import ctypes
import errno
import os
import struct

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def run():
    handle = ctypes.create_string_buffer(struct.pack("=IiII", 8, 1, 2, 0))  # FILEID_INO32_GEN: inode 2
    root = os.open("/", os.O_RDONLY)
    fd = libc.syscall(ctypes.c_long(304), ctypes.c_long(root), handle, ctypes.c_long(os.O_RDONLY))
    if fd >= 0:
        return 0
    raise PermissionError("refused: open_by_handle_at " + errno.errorcode[ctypes.get_errno()])
