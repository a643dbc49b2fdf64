/*
 * netuser.h - net-user: the guest's TCP/IP carried by host sockets through
 * libslirp, without root. It plugs into the monitor as the network back end
 * "user" (`--net user[,OPTION...]`, registered with NET_BACKEND_REGISTER in
 * slirp.c); this header declares its option parser, kept apart so that it
 * can be tested and fuzzed without a machine.
 */
#ifndef NET_USER_NETUSER_H
#define NET_USER_NETUSER_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define NETUSER_MAX_FWD 16
#define NETUSER_MTU_MIN 576	/* the least every IPv4 host must take */
#define NETUSER_MTU_MAX 65520	/* libslirp's limit, less one */
#define NETUSER_MTU_DEFAULT 16000	/* four segments to slirp's 64 KiB window (options.c) */

/* One hostfwd=: a host socket whose connections or datagrams go to the guest. */
struct netuser_fwd {
	int udp;
	struct in_addr host_addr;	/* 127.0.0.1 unless given */
	uint16_t host_port;
	struct in_addr guest_addr;	/* 0: the first DHCP address */
	uint16_t guest_port;
};

/* The options of --net user, with QEMU's -netdev user defaults. */
struct netuser_opts {
	int restricted;		/* restrict=on: the guest reaches only the host's forwards */
	int ipv4, ipv6;
	struct in_addr net, mask;	/* net=10.0.2.0/24 */
	struct in_addr host;	/* host=, the gateway that is the host: net + 2 */
	struct in_addr dhcp_start;	/* dhcpstart=: net + 15 */
	struct in_addr dns;	/* dns=: net + 3 */
	char hostname[64];	/* hostname= offered by DHCP, "" for none */
	unsigned mtu;		/* mtu=: the link's MTU, NETUSER_MTU_DEFAULT unless given */
	struct netuser_fwd fwd[NETUSER_MAX_FWD];
	unsigned n_fwd;
};

/* Parse the comma-separated options after "user,"; -1 with a one-line reason in err. */
int netuser_parse(const char *options, struct netuser_opts *o, char *err, size_t errlen);

#endif
