/*
 * uart.c - a National Semiconductor 16550A on COM1 (0x3f8-0x3ff, IRQ4),
 * connected to the guest console's host file descriptors.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the
 * console, so THR and the transmitter are always empty and a THRE interrupt
 * follows every write when enabled. Input is read from the console only as
 * far as the receive FIFO has room; the rest waits in the host until the
 * guest drains the FIFO, so the guest never overruns.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lightvm/devices.h"
#include "lightvm/log.h"

#define COM1 0x3f8
#define COM1_IRQ 4
#define FIFO_SIZE 16
#define UART_CLOCK 1843200u	/* the PC's 1.8432 MHz crystal, 16 clocks a bit */

/* Register offsets. */
enum { RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR };

#define IER_RDA 0x01
#define IER_THRE 0x02
#define IER_RLS 0x04
#define IER_MS 0x08

#define IIR_NONE 0x01
#define IIR_MS 0x00
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_RLS 0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_KEEP 0xc9		/* enable, DMA mode, trigger level */

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_ERRORS 0x1e		/* OE, PE, FE, BI: cleared by reading LSR */
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

struct uart {
	struct vm *vm;
	struct vm_timer *timer;		/* character timeout */
	int in_fd, out_fd;
	uint8_t watching, in_eof;
	uint8_t rx[FIFO_SIZE];
	uint8_t rx_head, rx_count, rbr;	/* rbr: last byte read, kept for empty reads */
	uint8_t ier, lcr, mcr, fcr, scr, dll, dlm;
	uint8_t lsr_err;		/* LSR_ERRORS bits */
	uint8_t msr_in, msr_delta;	/* modem input levels, their change bits */
	uint8_t thre_pending, timeout_pending;
	uint8_t irq_level;
	uint64_t timeout_at;		/* 0: the timeout timer is idle */
};

static unsigned rx_capacity(const struct uart *u)
{
	return (u->fcr & FCR_ENABLE) ? FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart *u)
{
	static const uint8_t level[4] = { 1, 4, 8, 14 };

	return level[u->fcr >> 6];
}

/* Four character times at the programmed rate and frame. */
static uint64_t timeout_ns(const struct uart *u)
{
	unsigned divisor = (unsigned)(u->dlm << 8 | u->dll);
	unsigned bits = 1 + 5 + (u->lcr & 3) + ((u->lcr >> 3) & 1) + 1 + ((u->lcr >> 2) & 1);

	if (!divisor)
		divisor = 65536;
	return 4ull * bits * divisor * 16 * 1000000000ull / UART_CLOCK;
}

/* The highest-priority interrupt condition, as IIR bits 3-0. */
static uint8_t iir_id(const struct uart *u)
{
	int fifo = u->fcr & FCR_ENABLE;

	if ((u->ier & IER_RLS) && (u->lsr_err & LSR_ERRORS))
		return IIR_RLS;
	if (u->ier & IER_RDA) {
		if (u->rx_count >= (fifo ? rx_trigger(u) : 1))
			return IIR_RDA;
		if (fifo && u->timeout_pending)
			return IIR_TIMEOUT;
	}
	if ((u->ier & IER_THRE) && u->thre_pending)
		return IIR_THRE;
	if ((u->ier & IER_MS) && (u->msr_delta & 0x0f))
		return IIR_MS;
	return IIR_NONE;
}

/* On PCs OUT2 enables the IRQ buffer; loopback forces OUT2 inactive. */
static void irq_update(struct uart *u)
{
	int level = iir_id(u) != IIR_NONE && (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);

	if (level == u->irq_level)
		return;
	u->irq_level = (uint8_t)level;
	vm_set_irq(u->vm, COM1_IRQ, level);
}

/* The timeout counts from the last byte received or read, in FIFO mode. */
static void timeout_restart(struct uart *u)
{
	u->timeout_at = 0;
	if ((u->fcr & FCR_ENABLE) && u->rx_count)
		u->timeout_at = vm_clock_ns() + timeout_ns(u);
	vm_timer_arm(u->timer, u->timeout_at);
}

static void timeout_fired(void *opaque)
{
	struct uart *u = opaque;

	u->timeout_at = 0;
	if ((u->fcr & FCR_ENABLE) && u->rx_count) {
		u->timeout_pending = 1;
		irq_update(u);
	}
}

static void rx_input(void *opaque);

/* Watch the console only while it is connected and the FIFO has room. */
static void rx_watch_update(struct uart *u)
{
	int want = u->in_fd >= 0 && !u->in_eof && !(u->mcr & MCR_LOOP) &&
		   u->rx_count < rx_capacity(u);

	if (want == u->watching)
		return;
	if (want && vm_watch_fd(u->vm, u->in_fd, rx_input, u)) {
		log_warn("cannot watch the console input; COM1 receives nothing");
		u->in_eof = 1;
		return;
	}
	if (!want)
		vm_unwatch_fd(u->vm, u->in_fd);
	u->watching = (uint8_t)want;
}

/* A byte arrives; with no room it is lost and OE set, as on the chip (the
 * FIFO keeps its bytes; a lone holding register is overwritten). */
static void rx_push(struct uart *u, uint8_t b)
{
	if (u->rx_count < rx_capacity(u)) {
		u->rx[(u->rx_head + u->rx_count++) % FIFO_SIZE] = b;
	} else {
		u->lsr_err |= LSR_OE;
		if (!(u->fcr & FCR_ENABLE))
			u->rx[u->rx_head] = b;
	}
	timeout_restart(u);
}

static void rx_clear(struct uart *u)
{
	u->rx_count = 0;
	u->rx_head = 0;
	u->timeout_pending = 0;
	timeout_restart(u);
}

static void rx_input(void *opaque)
{
	struct uart *u = opaque;
	uint8_t buf[FIFO_SIZE];
	size_t room = rx_capacity(u) - u->rx_count;
	ssize_t n;

	if (!room) {
		rx_watch_update(u);
		return;
	}
	n = read(u->in_fd, buf, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n < 0)
			log_warn("console input: %s; COM1 receives nothing more", strerror(errno));
		u->in_eof = 1;
	}
	for (ssize_t i = 0; i < n; i++)
		rx_push(u, buf[i]);
	rx_watch_update(u);
	irq_update(u);
}

static uint8_t rx_pop(struct uart *u)
{
	if (u->rx_count) {
		u->rbr = u->rx[u->rx_head];
		u->rx_head = (uint8_t)((u->rx_head + 1) % FIFO_SIZE);
		u->rx_count--;
		u->timeout_pending = 0;
		timeout_restart(u);
		rx_watch_update(u);
	}
	return u->rbr;
}

/* Send one byte to the console; a full non-blocking fd gets a short wait. */
static void tx_out(struct uart *u, uint8_t b)
{
	for (int tries = 0; u->out_fd >= 0 && tries < 100; tries++) {
		ssize_t n = write(u->out_fd, &b, 1);
		struct pollfd pfd = { .fd = u->out_fd, .events = POLLOUT };

		if (n == 1)
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			log_warn("console output: %s; COM1 output is dropped from now on",
				 strerror(errno));
			u->out_fd = -1;
			return;
		}
		poll(&pfd, 1, 10);
	}
}

static void thr_write(struct uart *u, uint8_t b)
{
	if (u->mcr & MCR_LOOP)
		rx_push(u, b);
	else
		tx_out(u, b);
	u->thre_pending = 1;
}

/* The modem inputs: a connected console (CTS, DSR, DCD), or in loopback
 * the modem outputs; changes set the delta bits. */
static void msr_update(struct uart *u)
{
	uint8_t in = MSR_CTS | MSR_DSR | MSR_DCD, changed;

	if (u->mcr & MCR_LOOP)
		in = (uint8_t)(((u->mcr & MCR_RTS) ? MSR_CTS : 0) | ((u->mcr & MCR_DTR) ? MSR_DSR : 0) |
			       ((u->mcr & MCR_OUT1) ? MSR_RI : 0) | ((u->mcr & MCR_OUT2) ? MSR_DCD : 0));
	changed = in ^ u->msr_in;
	if (changed & MSR_CTS)
		u->msr_delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		u->msr_delta |= MSR_DDSR;
	if (changed & MSR_DCD)
		u->msr_delta |= MSR_DDCD;
	if ((changed & MSR_RI) && !(in & MSR_RI))
		u->msr_delta |= MSR_TERI;	/* trailing edge of RI */
	u->msr_in = in;
}

static void fcr_write(struct uart *u, uint8_t v)
{
	if ((v ^ u->fcr) & FCR_ENABLE)
		rx_clear(u);	/* switching the FIFOs on or off empties them */
	if (!(v & FCR_ENABLE)) {
		u->fcr = 0;
		return;
	}
	u->fcr = v & FCR_KEEP;
	if (v & FCR_CLEAR_RX)
		rx_clear(u);
	if (v & FCR_CLEAR_TX)
		u->thre_pending = 1;
}

static void ier_write(struct uart *u, uint8_t v)
{
	/* Enabling THRE while the holding register is empty (always, here)
	 * interrupts at once; Linux's 8250 driver tests for exactly this. */
	if ((v & IER_THRE) && !(u->ier & IER_THRE))
		u->thre_pending = 1;
	u->ier = v & 0x0f;
}

static uint8_t uart_readb(void *dev, uint16_t port)
{
	struct uart *u = dev;
	uint8_t v;

	switch (port - COM1) {
	case RBR_THR:
		return (u->lcr & LCR_DLAB) ? u->dll : rx_pop(u);
	case IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case IIR_FCR:
		v = iir_id(u);
		if (v == IIR_THRE)
			u->thre_pending = 0;	/* reading IIR acknowledges THRE */
		return (uint8_t)(v | ((u->fcr & FCR_ENABLE) ? IIR_FIFO : 0));
	case LCR:
		return u->lcr;
	case MCR:
		return u->mcr;
	case LSR:
		v = (uint8_t)((u->rx_count ? LSR_DR : 0) | u->lsr_err | LSR_THRE | LSR_TEMT);
		u->lsr_err = 0;
		return v;
	case MSR:
		v = u->msr_in | u->msr_delta;
		u->msr_delta = 0;
		return v;
	default:
		return u->scr;
	}
}

static void uart_writeb(void *dev, uint16_t port, uint8_t v)
{
	struct uart *u = dev;

	switch (port - COM1) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			thr_write(u, v);
		break;
	case IER:
		if (u->lcr & LCR_DLAB)
			u->dlm = v;
		else
			ier_write(u, v);
		break;
	case IIR_FCR:
		fcr_write(u, v);
		break;
	case LCR:
		u->lcr = v;
		break;
	case MCR:
		u->mcr = v & 0x1f;
		msr_update(u);
		break;
	case LSR:
	case MSR:
		break;	/* factory test registers: writes ignored */
	default:
		u->scr = v;
		break;
	}
	rx_watch_update(u);
}

static uint32_t uart_pio_read(void *dev, uint16_t port, unsigned size)
{
	uint32_t v = pio_split_read(uart_readb, dev, port, size);

	irq_update(dev);
	return v;
}

static void uart_pio_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
	pio_split_write(uart_writeb, dev, port, size, value);
	irq_update(dev);
}

/* Master reset: registers cleared, FIFOs empty. The divisor is not reset by
 * the chip; it starts at 12 (9600 bit/s), as a BIOS would leave it. */
static void uart_reset(void *dev)
{
	struct uart *u = dev;

	u->ier = u->lcr = u->mcr = u->fcr = u->scr = 0;
	u->dll = 12;
	u->dlm = 0;
	u->lsr_err = 0;
	u->thre_pending = 0;
	u->rbr = 0;
	u->msr_in = 0;
	msr_update(u);
	u->msr_delta = 0;
	rx_clear(u);
	rx_watch_update(u);
	irq_update(u);
}

static int uart_create(struct vm *vm, void **dev)
{
	struct uart *u = calloc(1, sizeof(*u));

	if (!u) {
		log_error("out of memory");
		return -1;
	}
	u->vm = vm;
	vm_console_fds(vm, &u->in_fd, &u->out_fd);
	u->timer = vm_timer_new(vm, timeout_fired, u);
	if (!u->timer) {
		log_error("no timer for COM1");
		free(u);
		return -1;
	}
	uart_reset(u);
	*dev = u;
	return 0;
}

static void uart_save(void *dev, struct dev_state *s)
{
	struct uart *u = dev;
	const uint8_t f[] = { u->rx_count,  u->rbr,	    u->ier,	  u->lcr,
			      u->mcr,	    u->fcr,	    u->scr,	  u->dll,
			      u->dlm,	    u->lsr_err,	    u->msr_in,	  u->msr_delta,
			      u->thre_pending, u->timeout_pending, u->irq_level };
	uint64_t now = vm_clock_ns();

	dev_state_put(s, f, sizeof(f));
	for (unsigned i = 0; i < u->rx_count; i++)
		state_put_u8(s, u->rx[(u->rx_head + i) % FIFO_SIZE]);
	state_put_u64(s, u->timeout_at ? u->timeout_at - now : 0);
}

static int uart_restore(void *dev, struct dev_state *s)
{
	struct uart *u = dev, n = *u;
	uint64_t left;
	int ok = 1;

	n.rx_count = state_get_u8(s);
	n.rbr = state_get_u8(s);
	n.ier = state_get_u8(s);
	n.lcr = state_get_u8(s);
	n.mcr = state_get_u8(s);
	n.fcr = state_get_u8(s);
	n.scr = state_get_u8(s);
	n.dll = state_get_u8(s);
	n.dlm = state_get_u8(s);
	n.lsr_err = state_get_u8(s);
	n.msr_in = state_get_u8(s);
	n.msr_delta = state_get_u8(s);
	n.thre_pending = state_get_bool(s, &ok);
	n.timeout_pending = state_get_bool(s, &ok);
	n.irq_level = state_get_bool(s, &ok);
	n.rx_head = 0;
	if (n.rx_count > rx_capacity(&n) || (n.ier & 0xf0) || (n.mcr & 0xe0) ||
	    (n.fcr & ~FCR_KEEP) || (n.lsr_err & ~LSR_ERRORS) || (n.msr_in & 0x0f) ||
	    (n.msr_delta & 0xf0))
		ok = 0;
	for (unsigned i = 0; ok && i < n.rx_count; i++)
		n.rx[i] = state_get_u8(s);
	left = state_get_u64(s);
	if (!ok || s->error) {
		log_error("malformed 16550 state");
		return -1;
	}
	*u = n;
	/* Timer and console watch follow the restored registers; the IRQ line
	 * level was restored silently, the PIC keeps its own copy. */
	u->timeout_at = left ? vm_clock_ns() + left : 0;
	vm_timer_arm(u->timer, u->timeout_at);
	rx_watch_update(u);
	return 0;
}

static void uart_destroy(void *dev)
{
	struct uart *u = dev;

	if (u->watching)
		vm_unwatch_fd(u->vm, u->in_fd);
	vm_timer_free(u->timer);
	free(u);
}

static const struct device_ops uart_ops = {
	.name = "uart",
	.ports = { { COM1, 8 } },
	.create = uart_create,
	.pio_read = uart_pio_read,
	.pio_write = uart_pio_write,
	.reset = uart_reset,
	.save = uart_save,
	.restore = uart_restore,
	.destroy = uart_destroy,
};

DEVICE_REGISTER(uart_ops);
