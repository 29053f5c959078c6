// The vboard's skipped time, for runs in compressed time (a pilot's month in
// minutes): the rig jumps the board's tick counter ahead over the hours where
// nothing happens, so every task whose sleep ends within the jump runs once,
// as if the board had idled through them. Nothing of this is on the chip: the
// firmware cannot call it (it is not in the ESP32's API) and never knows.
//
// `vboard_skipped_ms` is added to ticks_ms and ticks_us (both wrap with it:
// 2^32 is a whole number of their periods). Its only writer is the board's
// event thread; the main thread may sit in poll() until its next deadline, so
// the writer wakes it with SIGUSR1, and MicroPython's poll loop, seeing its
// timeout spent on the new ticks, returns. The handler does nothing and
// restarts what can be restarted; poll() and sleeps never are, and MicroPython
// retries those on EINTR itself. (The threads' GC signals are SIGRTMIN + n.)
#include <pthread.h>
#include <signal.h>

static volatile uint32_t vboard_skipped_ms;
static pthread_t vboard_main_thread;

static void vboard_wake(int signo) {
    (void)signo;
}

__attribute__((constructor)) static void vboard_skip_init(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = vboard_wake;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    vboard_main_thread = pthread_self();
}

void mp_vboard_skip_ms(uint32_t ms) {
    vboard_skipped_ms += ms;
    pthread_kill(vboard_main_thread, SIGUSR1);
}

