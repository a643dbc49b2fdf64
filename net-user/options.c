/*
 * options.c - the options of `--net user`, in QEMU's -netdev user spelling:
 *   hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (repeatable;
 *     HOSTADDR defaults to 127.0.0.1, not QEMU's any address: a forward
 *     is reachable from this host only unless asked otherwise)
 *   restrict=on|off  ipv4=on|off  ipv6=on|off
 *   net=ADDR[/BITS]  host=ADDR  dhcpstart=ADDR  dns=ADDR  hostname=NAME
 *   mtu=BYTES (576-65520; not in QEMU, whose slirp link has 1500)
 * The link's MTU defaults to 16000: the link is no wire, and every frame
 * costs the guest about the same traps whatever its size, so large frames
 * move more per trap (host->guest 50 MB/s at 1500, 83 at 16000). Not
 * larger: slirp's TCP has no window scaling, so the guest's window is at
 * most 64 KiB, and with 64 KiB segments one fills it; the guest then ACKs
 * only when its 40 ms delayed-ACK timer fires (0.8 MB/s at 65520). 16000
 * leaves four segments to a window.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net-user/netuser.h"

#define MAX_OPTION 256

static int fail(char *err, size_t errlen, const char *fmt, const char *what)
{
	snprintf(err, errlen, fmt, what);
	return -1;
}

static int parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "yes"))
		*out = 1;
	else if (!strcmp(v, "off") || !strcmp(v, "no"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* A dotted-quad IPv4 address. */
static int parse_addr(const char *s, struct in_addr *a)
{
	return inet_pton(AF_INET, s, a) == 1 ? 0 : -1;
}

/* A port number 1-65535, all of s. */
static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* "[ADDR]:PORT" with a default address when ADDR is empty. */
static int parse_endpoint(char *s, struct in_addr def, struct in_addr *addr, uint16_t *port)
{
	char *colon = strrchr(s, ':');

	if (!colon)
		return -1;
	*colon = 0;
	*addr = def;
	if (*s && parse_addr(s, addr))
		return -1;
	return parse_port(colon + 1, port);
}

/* tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT */
static int parse_hostfwd(char *v, struct netuser_opts *o)
{
	struct netuser_fwd f = { 0 };
	char *dash;
	struct in_addr loopback = { htonl(INADDR_LOOPBACK) }, any = { 0 };

	if (!strncmp(v, "tcp:", 4))
		v += 4;
	else if (!strncmp(v, "udp:", 4))
		v += 4, f.udp = 1;
	else if (*v == ':')	/* QEMU's default protocol */
		v += 1;
	else
		return -1;
	dash = strchr(v, '-');
	if (!dash || o->n_fwd == NETUSER_MAX_FWD)
		return -1;
	*dash = 0;
	if (parse_endpoint(v, loopback, &f.host_addr, &f.host_port))
		return -1;
	if (parse_endpoint(dash + 1, any, &f.guest_addr, &f.guest_port))
		return -1;
	o->fwd[o->n_fwd++] = f;
	return 0;
}

/* "ADDR[/BITS]": the network and its mask (BITS 8-30; default 24). */
static int parse_net(char *v, struct netuser_opts *o)
{
	char *slash = strchr(v, '/');
	unsigned long bits = 24;
	char *end;

	if (slash) {
		*slash = 0;
		bits = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end || bits < 8 || bits > 30)
			return -1;
	}
	if (parse_addr(v, &o->net))
		return -1;
	o->mask.s_addr = htonl(~0u << (32 - bits));
	o->net.s_addr &= o->mask.s_addr;
	return 0;
}

static int parse_mtu(const char *v, unsigned *mtu)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (*v < '0' || *v > '9' || *end || n < NETUSER_MTU_MIN || n > NETUSER_MTU_MAX)
		return -1;
	*mtu = (unsigned)n;
	return 0;
}

static int parse_hostname(const char *v, struct netuser_opts *o)
{
	if (!*v || strlen(v) >= sizeof(o->hostname))
		return -1;
	strcpy(o->hostname, v);
	return 0;
}

/* The address at offset n in the network. */
static struct in_addr in_net(const struct netuser_opts *o, uint32_t n)
{
	struct in_addr a = { htonl(ntohl(o->net.s_addr) + n) };

	return a;
}

static int inside_net(const struct netuser_opts *o, struct in_addr a)
{
	return (a.s_addr & o->mask.s_addr) == o->net.s_addr;
}

/* Set addresses not given from the network, then check they all lie in it. */
static int check_addresses(struct netuser_opts *o, const int given[3], char *err, size_t errlen)
{
	static const char *const names[3] = { "host", "dhcpstart", "dns" };
	struct in_addr *addr[3] = { &o->host, &o->dhcp_start, &o->dns };
	static const uint32_t offset[3] = { 2, 15, 3 };

	for (int i = 0; i < 3; i++) {
		if (!given[i])
			*addr[i] = in_net(o, offset[i]);
		if (!inside_net(o, *addr[i]))
			return fail(err, errlen, "--net user: %s= is not inside net=", names[i]);
	}
	return 0;
}

/* One KEY=VALUE option; -1 with err set. */
static int parse_option(char *opt, struct netuser_opts *o, int given[3], char *err, size_t errlen)
{
	char *v = strchr(opt, '=');
	int bad;

	if (!v)
		return fail(err, errlen, "--net user: option %s has no value (KEY=VALUE)", opt);
	*v++ = 0;
	if (!strcmp(opt, "hostfwd"))
		bad = parse_hostfwd(v, o);
	else if (!strcmp(opt, "restrict"))
		bad = parse_bool(v, &o->restricted);
	else if (!strcmp(opt, "ipv4"))
		bad = parse_bool(v, &o->ipv4);
	else if (!strcmp(opt, "ipv6"))
		bad = parse_bool(v, &o->ipv6);
	else if (!strcmp(opt, "net"))
		bad = parse_net(v, o);
	else if (!strcmp(opt, "host"))
		bad = parse_addr(v, &o->host), given[0] = 1;
	else if (!strcmp(opt, "dhcpstart"))
		bad = parse_addr(v, &o->dhcp_start), given[1] = 1;
	else if (!strcmp(opt, "dns"))
		bad = parse_addr(v, &o->dns), given[2] = 1;
	else if (!strcmp(opt, "hostname"))
		bad = parse_hostname(v, o);
	else if (!strcmp(opt, "mtu"))
		bad = parse_mtu(v, &o->mtu);
	else
		return fail(err, errlen, "--net user: unknown option %s", opt);
	if (bad)
		return fail(err, errlen, "--net user: bad value for %s", opt);
	return 0;
}

int netuser_parse(const char *options, struct netuser_opts *o, char *err, size_t errlen)
{
	char buf[MAX_OPTION];
	int given[3] = { 0, 0, 0 };
	const char *p = options;

	*o = (struct netuser_opts){ .ipv4 = 1, .ipv6 = 1, .mtu = NETUSER_MTU_DEFAULT };
	inet_pton(AF_INET, "10.0.2.0", &o->net);
	o->mask.s_addr = htonl(0xffffff00u);
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len >= sizeof(buf))
			return fail(err, errlen, "--net user: option %.40s... is too long", p);
		memcpy(buf, p, len);
		buf[len] = 0;
		if (len && parse_option(buf, o, given, err, errlen))
			return -1;
		p += len + (p[len] == ',');
	}
	if (!o->ipv4 && !o->ipv6)
		return fail(err, errlen, "--net user: ipv4=off and ipv6=off leave no network%s", "");
	return check_addresses(o, given, err, errlen);
}
