// The vboard's ROMFS partition (MicroPython's `vfs.rom_ioctl`), replacing the
// unix port's empty one. On an ESP32 whose partition table has a `romfs`
// partition (ports/esp32/partitions-4MiB-romfs.csv) the chip maps that flash
// into its address space, so a .mpy imported from /rom runs in place: its
// bytecode takes no GC heap. Here the partition is a file beside the board's
// flash image (named by $VBOARD_ROMFS), mapped into memory the same way.
// Erase and program behave as flash does (an erase sets a 4096-byte block to
// 0xff, a program can only clear bits), so `mpremote romfs deploy` works on
// it unchanged. Not modelled: a power cut in the middle of a deploy.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "py/objarray.h"

#define ROMFS_BLOCK (4096)
#define ROMFS_MIN_WRITE (4)

static mp_obj_array_t romfs_view;

static bool romfs_mapped(void) {
    if (romfs_view.items != NULL) {
        return true;
    }
    const char *path = getenv("VBOARD_ROMFS");
    int fd = path == NULL ? -1 : open(path, O_RDWR);
    if (fd < 0) {
        return false;
    }
    struct stat st;
    void *base = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size % ROMFS_BLOCK == 0) {
        base = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    close(fd);
    if (base == MAP_FAILED) {
        return false;
    }
    mp_obj_memoryview_init(&romfs_view, 'B', 0, st.st_size, base);   // read-only to Python, as mapped flash is
    return true;
}

// The byte range [offset, offset + len) if it lies in the partition, else NULL.
static uint8_t *romfs_range(mp_int_t offset, size_t len) {
    if (offset < 0 || (size_t)offset > romfs_view.len || len > romfs_view.len - (size_t)offset) {
        return NULL;
    }
    return (uint8_t *)romfs_view.items + offset;
}

mp_obj_t mp_vfs_rom_ioctl(size_t n_args, const mp_obj_t *args) {
    mp_int_t op = mp_obj_get_int(args[0]);
    if (op == MP_VFS_ROM_IOCTL_GET_NUMBER_OF_SEGMENTS) {
        return MP_OBJ_NEW_SMALL_INT(romfs_mapped() ? 1 : 0);
    }
    if (n_args < 2 || mp_obj_get_int(args[1]) != 0 || !romfs_mapped()) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
    }
    switch (op) {
        case MP_VFS_ROM_IOCTL_GET_SEGMENT:
            return MP_OBJ_FROM_PTR(&romfs_view);

        case MP_VFS_ROM_IOCTL_WRITE_PREPARE: {
            // (id, length) erases from the start; (id, offset, length) a range; whole blocks either way
            if (n_args < 3) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            mp_int_t offset = n_args > 3 ? mp_obj_get_int(args[2]) : 0;
            mp_int_t len = mp_obj_get_int(args[n_args > 3 ? 3 : 2]);
            if (offset % ROMFS_BLOCK != 0 || len < 0) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            size_t whole = (len + ROMFS_BLOCK - 1) / ROMFS_BLOCK * ROMFS_BLOCK;
            uint8_t *at = romfs_range(offset, whole);
            if (at == NULL) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            memset(at, 0xff, whole);
            return MP_OBJ_NEW_SMALL_INT(ROMFS_MIN_WRITE);
        }

        case MP_VFS_ROM_IOCTL_WRITE: {
            if (n_args < 4) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            mp_buffer_info_t buf;
            mp_get_buffer_raise(args[3], &buf, MP_BUFFER_READ);
            mp_int_t offset = mp_obj_get_int(args[2]);
            uint8_t *at = romfs_range(offset, buf.len);
            if (at == NULL || offset % ROMFS_MIN_WRITE != 0) {
                return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
            }
            for (size_t i = 0; i < buf.len; ++i) {
                at[i] &= ((const uint8_t *)buf.buf)[i];   // flash programming only clears bits
            }
            return MP_OBJ_NEW_SMALL_INT(0);
        }

        case MP_VFS_ROM_IOCTL_WRITE_COMPLETE:
            return MP_OBJ_NEW_SMALL_INT(msync(romfs_view.items, romfs_view.len, MS_SYNC) == 0 ? 0 : -MP_EIO);

        case 6:   // the erase block size (what mpremote prepares in)
            return MP_OBJ_NEW_SMALL_INT(ROMFS_BLOCK);
    }
    return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
}
