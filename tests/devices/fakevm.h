/*
 * fakevm.h - a stand-in for the monitor that device tests run against: it
 * implements the services of lightvm/device.h with a clock the test moves,
 * records every IRQ line change, and connects the console to pipes.
 */
#ifndef TESTS_DEVICES_FAKEVM_H
#define TESTS_DEVICES_FAKEVM_H

#include <stddef.h>
#include <stdint.h>

#include "lightvm/devices.h"

struct vm;

/* A machine with ram_bytes of RAM and a console on pipes. */
struct vm *fakevm_new(uint64_t ram_bytes);
void fakevm_free(struct vm *vm);

/* The fake clock starts at FAKEVM_T0 so that times before "now" exist. */
#define FAKEVM_T0 1000000000000ull
uint64_t fakevm_now(void);
/* Move the clock by ns, firing each timer at its deadline, in order. */
void fakevm_advance(uint64_t ns);
/* Move the clock by ns at once, then fire what is due: a host that fell behind. */
void fakevm_advance_late(uint64_t ns);

/* Call the handlers of watched fds that are readable; returns how many ran. */
int fakevm_run_watchers(struct vm *vm);
/* True if fd is being watched. */
int fakevm_watching(struct vm *vm, int fd);

/* IRQ line state as devices drive it through vm_set_irq. */
int fakevm_irq_level(struct vm *vm, unsigned irq);
unsigned fakevm_irq_rises(struct vm *vm, unsigned irq);
uint64_t fakevm_irq_last_rise(struct vm *vm, unsigned irq);
void fakevm_irq_clear_counts(struct vm *vm);

/* The interrupt controller a device registered with vm_set_intc. */
const struct intc_ops *fakevm_intc(struct vm *vm, void **opaque);

/* Feed the console input; read what the devices wrote to the console. */
void fakevm_console_input(struct vm *vm, const void *buf, size_t n);
size_t fakevm_console_output(struct vm *vm, char *buf, size_t max);
int fakevm_console_in_fd(struct vm *vm);

/* Stop requests so far; the last one's kind (reset) and reason. */
unsigned fakevm_stops(struct vm *vm, int *reset, const char **why);

/* Give the machine a network back end (before devices_create) whose frames the test sees. */
void fakevm_enable_net(struct vm *vm);
/* The fake guest RAM, for building rings and buffers. */
uint8_t *fakevm_ram(struct vm *vm);
/* Hand a frame from the "host" to the attached NIC. */
void fakevm_net_deliver(struct vm *vm, const void *frame, size_t len);
/* Frames the NIC sent so far; frame i in *frame and *len when i is below the count. */
unsigned fakevm_net_sent(struct vm *vm, unsigned i, const uint8_t **frame, size_t *len);
/* Configuration mechanism #1: read or write size bytes at reg of bus 0's slot. */
uint32_t fakevm_pci_read(struct device_set *set, unsigned slot, unsigned reg, unsigned size);
void fakevm_pci_write(struct device_set *set, unsigned slot, unsigned reg, unsigned size,
		      uint32_t v);
/* The total vm_count() gave name. */
uint64_t fakevm_count(struct vm *vm, const char *name);

#endif
