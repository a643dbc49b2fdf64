/*
 * test-options.c - `--net user` options: QEMU's defaults (10.0.2.0/24, host
 * .2, DNS .3, DHCP from .15, IPv4 and IPv6 on), hostfwd in each spelling
 * with the host's loopback as the default host address, the other options,
 * and a one-line refusal for each kind of mistake.
 */
#include <arpa/inet.h>
#include <string.h>

#include "net-user/netuser.h"
#include "tests/devices/check.h"

static struct netuser_opts o;
static char err[256];

static uint32_t addr(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static int parse(const char *s)
{
	err[0] = 0;
	return netuser_parse(s, &o, err, sizeof(err));
}

/* s is refused with a message that contains what. */
static void refused(const char *s, const char *what)
{
	CHECK_EQ(parse(s), -1);
	if (!strstr(err, what))
		fprintf(stderr, "for \"%s\": message \"%s\" lacks \"%s\"\n", s, err, what),
			check_failures++;
	CHECK(!strchr(err, '\n'));
}

int main(void)
{
	CHECK_EQ(parse(""), 0);
	CHECK_EQ(o.net.s_addr, addr("10.0.2.0"));
	CHECK_EQ(o.mask.s_addr, addr("255.255.255.0"));
	CHECK_EQ(o.host.s_addr, addr("10.0.2.2"));
	CHECK_EQ(o.dns.s_addr, addr("10.0.2.3"));
	CHECK_EQ(o.dhcp_start.s_addr, addr("10.0.2.15"));
	CHECK(o.ipv4 && o.ipv6 && !o.restricted && !o.n_fwd && !o.hostname[0]);
	CHECK_EQ(o.mtu, 16000);
	CHECK_EQ(parse("mtu=1500"), 0);
	CHECK_EQ(o.mtu, 1500);
	refused("mtu=575", "bad value for mtu");
	refused("mtu=65521", "bad value for mtu");
	refused("mtu=15x", "bad value for mtu");

	CHECK_EQ(parse("hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp::5353-10.0.2.20:53,"
		       "hostfwd=::2222-:22,hostfwd=tcp:0.0.0.0:9000-10.0.2.15:9001"), 0);
	CHECK_EQ(o.n_fwd, 4);
	CHECK(!o.fwd[0].udp && o.fwd[0].host_port == 8080 && o.fwd[0].guest_port == 80);
	CHECK_EQ(o.fwd[0].host_addr.s_addr, addr("127.0.0.1"));
	CHECK_EQ(o.fwd[0].guest_addr.s_addr, 0);	/* slirp: the first DHCP address */
	CHECK(o.fwd[1].udp && o.fwd[1].host_port == 5353 && o.fwd[1].guest_port == 53);
	CHECK_EQ(o.fwd[1].host_addr.s_addr, addr("127.0.0.1"));	/* loopback by default */
	CHECK_EQ(o.fwd[1].guest_addr.s_addr, addr("10.0.2.20"));
	CHECK(!o.fwd[2].udp && o.fwd[2].host_port == 2222 && o.fwd[2].guest_port == 22);
	CHECK_EQ(o.fwd[3].host_addr.s_addr, addr("0.0.0.0"));

	CHECK_EQ(parse("restrict=on,ipv6=off,net=192.168.7.0/25,host=192.168.7.1,"
		       "dhcpstart=192.168.7.100,dns=192.168.7.53,hostname=guest1"), 0);
	CHECK(o.restricted && o.ipv4 && !o.ipv6);
	CHECK_EQ(o.mask.s_addr, addr("255.255.255.128"));
	CHECK_EQ(o.host.s_addr, addr("192.168.7.1"));
	CHECK_EQ(o.dhcp_start.s_addr, addr("192.168.7.100"));
	CHECK_EQ(o.dns.s_addr, addr("192.168.7.53"));
	CHECK(!strcmp(o.hostname, "guest1"));
	CHECK_EQ(parse("net=172.16.5.9/16"), 0);	/* host bits dropped, the rest follows */
	CHECK_EQ(o.net.s_addr, addr("172.16.0.0"));
	CHECK_EQ(o.host.s_addr, addr("172.16.0.2"));

	refused("bogus=1", "unknown option bogus");
	refused("restrict", "has no value");
	refused("restrict=maybe", "bad value for restrict");
	refused("hostfwd=sctp::1-:2", "bad value for hostfwd");
	refused("hostfwd=tcp::0-:80", "bad value for hostfwd");
	refused("hostfwd=tcp::70000-:80", "bad value for hostfwd");
	refused("hostfwd=tcp::80", "bad value for hostfwd");
	refused("hostfwd=tcp:300.1.1.1:80-:80", "bad value for hostfwd");
	refused("hostfwd=tcp::80-:x", "bad value for hostfwd");
	refused("net=10.0.0.0/31", "bad value for net");
	refused("net=10.0.0.0/", "bad value for net");
	refused("host=10.0.3.2", "host= is not inside net=");
	refused("dns=8.8.8.8", "dns= is not inside net=");
	refused("ipv4=off,ipv6=off", "leave no network");
	refused("hostname=", "bad value for hostname");
	{
		char many[1024] = "";

		for (int i = 0; i <= NETUSER_MAX_FWD; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many),
				 "hostfwd=tcp::%d-:80,", 1000 + i);
		refused(many, "bad value for hostfwd");
	}
	{
		char longopt[400];

		memset(longopt, 'a', sizeof(longopt) - 1);
		longopt[sizeof(longopt) - 1] = 0;
		refused(longopt, "too long");
	}
	return check_done("test-options");
}
