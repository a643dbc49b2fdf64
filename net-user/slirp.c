/*
 * slirp.c - the network back end "user": libslirp in the monitor's event
 * loop. Frames the guest sends go to slirp_input(); the frames slirp makes
 * go to the guest's NIC at once (vm_net_receive). Slirp's sockets are a
 * poll source of the monitor (device.h): each is put in O_ASYNC mode, so
 * data arriving while the guest runs stops it, and the monitor polls them
 * with its timers and the console; slirp's timers are monitor timers on the
 * monitor's clock. Slirp's own TCP timers run when slirp_pollfds_poll() is
 * called; fill() learns from slirp when that is next due and arms a timer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libslirp.h>

#include "lightvm/device.h"
#include "lightvm/log.h"
#include "net-user/netuser.h"

struct netuser {
	struct vm *vm;
	Slirp *slirp;
	struct netuser_opts opts;
	int dirty;		/* slirp took a frame or asked to be polled */
	struct vm_timer *tick;	/* when slirp's TCP timers are next due */
	uint64_t tick_at;	/* its deadline, 0 if disarmed */
};

/* One of slirp's timers. */
struct slirp_timer {
	struct vm_timer *t;
	SlirpTimerCb cb;
	void *cb_opaque;
};

static ssize_t send_to_guest(const void *buf, size_t len, void *opaque)
{
	struct netuser *u = opaque;

	vm_net_receive(u->vm, buf, len);
	return (ssize_t)len;
}

static void guest_error(const char *msg, void *opaque)
{
	struct netuser *u = opaque;

	vm_count(u->vm, "net-user: malformed packets from the guest", 1);
	trace(TRACE_NET, "slirp: %s", msg);
}

static int64_t clock_ns(void *opaque)
{
	(void)opaque;
	return (int64_t)vm_clock_ns();
}

static void slirp_timer_fire(void *opaque)
{
	struct slirp_timer *st = opaque;

	st->cb(st->cb_opaque);
}

static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct netuser *u = opaque;
	struct slirp_timer *st = calloc(1, sizeof(*st));

	if (!st || !(st->t = vm_timer_new(u->vm, slirp_timer_fire, st))) {
		free(st);
		return NULL;
	}
	st->cb = cb;
	st->cb_opaque = cb_opaque;
	return st;
}

static void timer_free(void *timer, void *opaque)
{
	struct slirp_timer *st = timer;

	(void)opaque;
	if (st)
		vm_timer_free(st->t);
	free(st);
}

/* Slirp's expiry is in milliseconds of clock_ns(). */
static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *st = timer;

	(void)opaque;
	if (st)
		vm_timer_arm(st->t, expire_ms > 0 ? (uint64_t)expire_ms * 1000000u : 1);
}

static void register_poll_fd(int fd, void *opaque)
{
	(void)opaque;
	vm_async_fd(fd);
}

static void unregister_poll_fd(int fd, void *opaque)
{
	(void)fd, (void)opaque;
}

/* Slirp can take more from a socket (the guest's window opened). */
static void notify(void *opaque)
{
	struct netuser *u = opaque;

	u->dirty = 1;
}

static const SlirpCb callbacks = {
	.send_packet = send_to_guest,
	.guest_error = guest_error,
	.clock_get_ns = clock_ns,
	.timer_new = timer_new,
	.timer_free = timer_free,
	.timer_mod = timer_mod,
	.register_poll_fd = register_poll_fd,
	.unregister_poll_fd = unregister_poll_fd,
	.notify = notify,
};

/* --- the poll source --- */

static int add_poll(int fd, int events, void *opaque)
{
	short ev = 0;

	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	/* A socket slirp made where register_poll_fd was not called must wake us too. */
	vm_async_fd(fd);
	return vm_poll_add(opaque, fd, ev);
}

static int get_revents(int idx, void *opaque)
{
	short rev = vm_poll_revents(opaque, idx);
	int r = 0;

	if (rev & POLLIN)
		r |= SLIRP_POLL_IN;
	if (rev & POLLOUT)
		r |= SLIRP_POLL_OUT;
	if (rev & POLLPRI)
		r |= SLIRP_POLL_PRI;
	if (rev & (POLLERR | POLLNVAL))
		r |= SLIRP_POLL_ERR;
	if (rev & POLLHUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

static int no_revents(int idx, void *opaque)
{
	(void)idx, (void)opaque;
	return 0;
}

static int wants_poll(void *opaque)
{
	return ((struct netuser *)opaque)->dirty;
}

static void fill(void *opaque, struct vm_poll *p)
{
	struct netuser *u = opaque;
	uint32_t timeout_ms = UINT32_MAX;
	uint64_t due;

	u->dirty = 0;
	slirp_pollfds_fill(u->slirp, &timeout_ms, add_poll, p);
	if (timeout_ms == UINT32_MAX)
		return;
	due = vm_clock_ns() + (uint64_t)timeout_ms * 1000000u;
	if (!u->tick_at || due < u->tick_at) {
		u->tick_at = due;
		vm_timer_arm(u->tick, due);
	}
}

static void dispatch(void *opaque, struct vm_poll *p)
{
	struct netuser *u = opaque;

	slirp_pollfds_poll(u->slirp, 0, get_revents, p);
}

/* Slirp's TCP timers are due: run them (no socket is looked at). */
static void tick(void *opaque)
{
	struct netuser *u = opaque;

	u->tick_at = 0;
	slirp_pollfds_poll(u->slirp, 0, no_revents, NULL);
	u->dirty = 1;
}

static const struct poll_source_ops poll_ops = {
	.wants_poll = wants_poll,
	.fill = fill,
	.dispatch = dispatch,
};

/* --- the back end --- */

static void user_send(void *be, const uint8_t *frame, size_t len)
{
	struct netuser *u = be;

	if (len > INT32_MAX)
		return;
	slirp_input(u->slirp, frame, (int)len);
	u->dirty = 1;
}

static void user_destroy(void *be)
{
	struct netuser *u = be;

	if (!u)
		return;
	vm_remove_poll_source(u->vm, u);
	if (u->slirp)
		slirp_cleanup(u->slirp);
	vm_timer_free(u->tick);
	free(u);
}

static void slirp_config(const struct netuser_opts *o, SlirpConfig *cfg)
{
	*cfg = (SlirpConfig){ .version = 1,
			      .restricted = o->restricted,
			      .in_enabled = o->ipv4,
			      .vnetwork = o->net,
			      .vnetmask = o->mask,
			      .vhost = o->host,
			      .in6_enabled = o->ipv6,
			      .vprefix_len = 64,
			      .vhostname = o->hostname[0] ? o->hostname : NULL,
			      .vdhcp_start = o->dhcp_start,
			      .vnameserver = o->dns,
			      .if_mtu = o->mtu,
			      .if_mru = o->mtu };
	/* QEMU's IPv6 defaults: fec0::/64, the host fec0::2, DNS fec0::3. */
	inet_pton(AF_INET6, "fec0::", &cfg->vprefix_addr6);
	inet_pton(AF_INET6, "fec0::2", &cfg->vhost6);
	inet_pton(AF_INET6, "fec0::3", &cfg->vnameserver6);
}

static int add_forwards(struct netuser *u, char *err, size_t errlen)
{
	for (unsigned i = 0; i < u->opts.n_fwd; i++) {
		const struct netuser_fwd *f = &u->opts.fwd[i];
		char host[INET_ADDRSTRLEN];

		if (slirp_add_hostfwd(u->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr,
				      f->guest_port) < 0) {
			inet_ntop(AF_INET, &f->host_addr, host, sizeof(host));
			snprintf(err, errlen, "--net user: hostfwd %s:%s:%u: cannot listen there (%s)",
				 f->udp ? "udp" : "tcp", host, f->host_port,
				 errno ? strerror(errno) : "address in use?");
			return -1;
		}
	}
	return 0;
}

static int user_create(struct vm *vm, const char *options, void **be, char *err, size_t errlen)
{
	struct netuser *u = calloc(1, sizeof(*u));
	SlirpConfig cfg;

	if (!u) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	u->vm = vm;
	if (netuser_parse(options, &u->opts, err, errlen))
		goto fail;
	slirp_config(&u->opts, &cfg);
	if (!(u->tick = vm_timer_new(vm, tick, u)) ||
	    !(u->slirp = slirp_new(&cfg, &callbacks, u))) {
		snprintf(err, errlen, "--net user: cannot start libslirp");
		goto fail;
	}
	errno = 0;
	if (add_forwards(u, err, errlen))
		goto fail;
	if (vm_add_poll_source(vm, &poll_ops, u)) {
		snprintf(err, errlen, "--net user: too many poll sources");
		goto fail;
	}
	u->dirty = 1;
	*be = u;
	return 0;
fail:
	user_destroy(u);
	return -1;
}

static unsigned user_mtu(void *be)
{
	return ((struct netuser *)be)->opts.mtu;
}

static const struct net_backend_ops user_ops = {
	.name = "user",
	.mtu = user_mtu,
	.create = user_create,
	.send = user_send,
	.destroy = user_destroy,
};

NET_BACKEND_REGISTER(user_ops);
