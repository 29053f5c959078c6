// The vboard's ROMFS partition (MicroPython's `vfs.rom_ioctl`), replacing the
// unix port's empty one, shaped as the esp32 port's (esp32_partition.c): on an
// ESP32 whose partition table has a `romfs` partition
// (ports/esp32/partitions-4MiB-romfs.csv), `vfs.rom_ioctl(2, 0)` is that
// partition, an `esp32.Partition` whose buffer is the flash mapped into the
// address space, so a .mpy imported from /rom runs in place: its bytecode
// takes no GC heap. It is written through the partition's block-device
// methods (ioctl 6 erases a block, writeblocks programs); the write ioctls of
// `vfs.rom_ioctl` itself are refused there, and so here. The partition is a
// file beside the board's flash image (named by $VBOARD_ROMFS), mapped into
// memory the same way. Erase and program behave as flash does (an erase sets
// a 4096-byte block to 0xff, a program can only clear bits), so `mpremote
// romfs deploy` works on it unchanged; a power cut (the interpreter killed)
// leaves what was programmed until then.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "py/mperrno.h"
#include "extmod/vfs.h"

#define ROMFS_BLOCK (4096)

static uint8_t *romfs_base;
static size_t romfs_size;

static bool romfs_mapped(void) {
    if (romfs_base != NULL) {
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
    romfs_base = base;
    romfs_size = st.st_size;
    return true;
}

// The byte range [offset, offset + len) if it lies in the partition; else
// OSError(EINVAL), as the chip's esp_partition_* calls refuse it.
static uint8_t *romfs_range(mp_int_t offset, size_t len) {
    if (offset < 0 || (size_t)offset > romfs_size || len > romfs_size - (size_t)offset) {
        mp_raise_OSError(MP_EINVAL);
    }
    return romfs_base + offset;
}

static void romfs_erase(mp_int_t offset, size_t len) {
    if (offset % ROMFS_BLOCK != 0 || len % ROMFS_BLOCK != 0) {
        mp_raise_OSError(MP_EINVAL);
    }
    memset(romfs_range(offset, len), 0xff, len);
}

static void romfs_program(mp_int_t offset, mp_obj_t data) {
    mp_buffer_info_t buf;
    mp_get_buffer_raise(data, &buf, MP_BUFFER_READ);
    uint8_t *at = romfs_range(offset, buf.len);
    for (size_t i = 0; i < buf.len; ++i) {
        at[i] &= ((const uint8_t *)buf.buf)[i];   // flash programming only clears bits
    }
}

static mp_obj_t romfs_readblocks(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t buf;
    mp_get_buffer_raise(args[2], &buf, MP_BUFFER_WRITE);
    mp_int_t offset = mp_obj_get_int(args[1]) * ROMFS_BLOCK + (n_args == 4 ? mp_obj_get_int(args[3]) : 0);
    memcpy(buf.buf, romfs_range(offset, buf.len), buf.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(romfs_readblocks_obj, 3, 4, romfs_readblocks);

// (block, buf) erases the blocks it covers, then programs; (block, buf, offset)
// only programs, into blocks erased before (the chip's "extended" write).
static mp_obj_t romfs_writeblocks(size_t n_args, const mp_obj_t *args) {
    mp_int_t offset = mp_obj_get_int(args[1]) * ROMFS_BLOCK;
    if (n_args == 3) {
        romfs_erase(offset, mp_obj_get_int(mp_obj_len(args[2])));
    } else {
        offset += mp_obj_get_int(args[3]);
    }
    romfs_program(offset, args[2]);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(romfs_writeblocks_obj, 3, 4, romfs_writeblocks);

static mp_obj_t romfs_ioctl(mp_obj_t self_in, mp_obj_t cmd_in, mp_obj_t arg_in) {
    switch (mp_obj_get_int(cmd_in)) {
        case MP_BLOCKDEV_IOCTL_INIT:
        case MP_BLOCKDEV_IOCTL_DEINIT:
            return MP_OBJ_NEW_SMALL_INT(0);
        case MP_BLOCKDEV_IOCTL_SYNC:
            return MP_OBJ_NEW_SMALL_INT(msync(romfs_base, romfs_size, MS_SYNC) == 0 ? 0 : -MP_EIO);
        case MP_BLOCKDEV_IOCTL_BLOCK_COUNT:
            return MP_OBJ_NEW_SMALL_INT(romfs_size / ROMFS_BLOCK);
        case MP_BLOCKDEV_IOCTL_BLOCK_SIZE:
            return MP_OBJ_NEW_SMALL_INT(ROMFS_BLOCK);
        case MP_BLOCKDEV_IOCTL_BLOCK_ERASE:
            romfs_erase(mp_obj_get_int(arg_in) * ROMFS_BLOCK, ROMFS_BLOCK);
            return MP_OBJ_NEW_SMALL_INT(0);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(romfs_ioctl_obj, romfs_ioctl);

// Read-only, as mapped flash is: VfsRom runs the code where it lies.
static mp_int_t romfs_get_buffer(mp_obj_t self_in, mp_buffer_info_t *bufinfo, mp_uint_t flags) {
    if (flags != MP_BUFFER_READ) {
        return 1;
    }
    bufinfo->buf = romfs_base;
    bufinfo->len = romfs_size;
    bufinfo->typecode = 'B';
    return 0;
}

static void romfs_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    mp_printf(print, "<Partition type=1, subtype=130, address=1966080, size=%u, label=romfs, encrypted=0>",
        (unsigned)romfs_size);
}

static const mp_rom_map_elem_t romfs_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&romfs_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&romfs_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&romfs_ioctl_obj) },
};
static MP_DEFINE_CONST_DICT(romfs_locals_dict, romfs_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    romfs_partition_type,
    MP_QSTR_Partition,
    MP_TYPE_FLAG_NONE,
    print, romfs_print,
    buffer, romfs_get_buffer,
    locals_dict, &romfs_locals_dict
    );

static const mp_obj_base_t romfs_partition = { &romfs_partition_type };

mp_obj_t mp_vfs_rom_ioctl(size_t n_args, const mp_obj_t *args) {
    switch (mp_obj_get_int(args[0])) {
        case MP_VFS_ROM_IOCTL_GET_NUMBER_OF_SEGMENTS:
            return MP_OBJ_NEW_SMALL_INT(romfs_mapped() ? 1 : 0);
        case MP_VFS_ROM_IOCTL_GET_SEGMENT:
            if (romfs_mapped()) {
                return MP_OBJ_FROM_PTR(&romfs_partition);
            }
    }
    return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
}
