/* netperf.c - the TCP client and server of bench/net.sh: bulk transfer and
 * request/response ping-pong, one connection per measurement. The same
 * source runs in the Linux guest (gcc -m32 -static) and on the host (native
 * build) for the QEMU, pasta and loopback columns.
 *
 * usage:
 *   netperf server [-d] [-b ADDR] PORT
 *       Listen on ADDR:PORT (default 0.0.0.0; PORT 0: any free port) and
 *       serve connections one after another until killed. It prints
 *       "netperf: server listening port PORT pid PID" once listening; with
 *       -d it does so from the parent, which then exits: a shell that runs
 *       it knows the server is listening when the command returns.
 *   netperf client ADDR PORT send MIB    the client sends MIB MiB
 *   netperf client ADDR PORT recv MIB    the server sends MIB MiB
 *   netperf client ADDR PORT rr COUNT SIZE
 *       COUNT round trips of a SIZE-byte request and a SIZE-byte reply
 *       (TCP_NODELAY on both sides)
 *   netperf port    print a TCP port of 127.0.0.1 that is free now
 *
 * The client sends a 16-byte header (magic, op, two arguments); both sides
 * time the exchange with CLOCK_MONOTONIC and print one line each:
 *   netperf: ROLE op=send mib=N s=SECONDS mbps=MB_PER_S
 *   netperf: ROLE op=rr count=N size=S s=SECONDS us=US_PER_ROUND_TRIP
 * (MB = 10^6 bytes). What each side times:
 *   send  client: from writing the header to the server's 1-byte
 *         acknowledgement, sent once it has read everything;
 *         server: from reading the header to reading the last byte.
 *   recv  client: from writing the header to reading the last byte;
 *         server: from writing the first byte to the client's
 *         acknowledgement.
 *   rr    client: all COUNT round trips, per round trip;
 *         server: from the first request to the last one, per interval
 *         (COUNT - 1 of them, each one full round trip).
 * bench/net.sh takes the figure of the side outside the VM or namespace,
 * so that a guest's clock does not grade itself.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x4e504631u	/* "NPF1" */
#define OP_SEND 1
#define OP_RECV 2
#define OP_RR 3
#define CHUNK (64 * 1024)
#define MAX_SIZE CHUNK		/* largest rr message */
#define MAX_MIB 65536u

static char buf[CHUNK];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: netperf server [-d] [-b ADDR] PORT\n"
		"       netperf client ADDR PORT send|recv MIB\n"
		"       netperf client ADDR PORT rr COUNT SIZE\n"
		"       netperf port\n");
	exit(2);
}

static void fail(const char *what)
{
	fprintf(stderr, "netperf: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Read or write exactly n bytes; 0 on success, -1 on error or early EOF. */
/* One read or write of up to n bytes, retried on EINTR; end of file is EPIPE. */
static ssize_t move_some(int write_it, int fd, char *p, size_t n)
{
	ssize_t r;

	do
		r = write_it ? write(fd, p, n) : read(fd, p, n);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = EPIPE;
	return r > 0 ? r : -1;
}

static int full(int write_it, int fd, char *p, size_t n)
{
	while (n) {
		ssize_t r = move_some(write_it, fd, p, n);

		if (r < 0)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

/* Move total bytes through fd in CHUNK pieces (reads take what comes). */
static int bulk(int write_it, int fd, uint64_t total)
{
	while (total) {
		size_t n = total < CHUNK ? total : CHUNK;

		if (write_it) {
			if (full(1, fd, buf, n) < 0)
				return -1;
		} else {
			ssize_t r = move_some(0, fd, buf, n);

			if (r < 0)
				return -1;
			n = r;
		}
		total -= n;
	}
	return 0;
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void addr_of(struct sockaddr_in *sa, const char *host, const char *port)
{
	char *end;
	long p = strtol(port, &end, 10);
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)p);
	if (*end || p < 0 || p > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		fprintf(stderr, "netperf: bad address %s:%s\n", host, port);
		exit(2);
	}
}

static void report(const char *role, int op, uint32_t a, uint32_t b, double s)
{
	if (op == OP_RR)
		printf("netperf: %s op=rr count=%u size=%u s=%.6f us=%.2f\n", role, a, b, s,
		       s * 1e6 / (strcmp(role, "server") ? a : a - 1));
	else
		printf("netperf: %s op=%s mib=%u s=%.6f mbps=%.2f\n", role,
		       op == OP_SEND ? "send" : "recv", a, s, (double)a * 1048576 / 1e6 / s);
	fflush(stdout);
}

/* One connection of the server; complaints go to stderr, the server goes on. */
static void serve(int fd)
{
	uint32_t h[4];
	double t0 = 0, t1 = 0;
	char ack = 'k';

	if (full(0, fd, (char *)h, sizeof h) < 0) {
		fprintf(stderr, "netperf: server: no header: %s\n", strerror(errno));
		return;
	}
	uint32_t magic = ntohl(h[0]), op = ntohl(h[1]), a = ntohl(h[2]), b = ntohl(h[3]);
	if (magic != MAGIC || op < OP_SEND || op > OP_RR || (op != OP_RR && (a == 0 || a > MAX_MIB)) ||
	    (op == OP_RR && (a < 2 || b == 0 || b > MAX_SIZE))) {
		fprintf(stderr, "netperf: server: bad header\n");
		return;
	}
	switch (op) {
	case OP_SEND:	/* the client sends */
		t0 = now();
		if (bulk(0, fd, (uint64_t)a << 20) < 0)
			goto broken;
		t1 = now();
		if (full(1, fd, &ack, 1) < 0)
			goto broken;
		break;
	case OP_RECV:	/* the server sends */
		t0 = now();
		if (bulk(1, fd, (uint64_t)a << 20) < 0 || full(0, fd, &ack, 1) < 0)
			goto broken;
		t1 = now();
		break;
	default:
		nodelay(fd);
		t0 = 0;
		for (uint32_t i = 0; i < a; i++) {
			if (full(0, fd, buf, b) < 0)
				goto broken;
			if (i == 0)
				t0 = now();
			if (i == a - 1)
				t1 = now();
			if (full(1, fd, buf, b) < 0)
				goto broken;
		}
		break;
	}
	report("server", op, a, b, t1 - t0);
	return;
broken:
	fprintf(stderr, "netperf: server: op %u broken off: %s\n", op, strerror(errno));
}

static int server(int argc, char **argv)
{
	const char *bind_addr = "0.0.0.0";
	int detach = 0, c, one = 1;
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;

	while ((c = getopt(argc, argv, "db:")) != -1) {
		switch (c) {
		case 'd': detach = 1; break;
		case 'b': bind_addr = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 1)
		usage();
	addr_of(&sa, bind_addr, argv[optind]);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0)
		fail("socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0)
		fail("bind");
	if (listen(ls, 16) < 0)
		fail("listen");
	if (getsockname(ls, (struct sockaddr *)&sa, &len) < 0)
		fail("getsockname");
	signal(SIGPIPE, SIG_IGN);
	fflush(stdout);
	pid_t pid = getpid();
	if (detach) {
		pid = fork();
		if (pid < 0)
			fail("fork");
		if (pid == 0)
			setsid();
	}
	if (pid != 0) {
		printf("netperf: server listening port %u pid %ld\n", ntohs(sa.sin_port), (long)pid);
		fflush(stdout);
		if (detach)
			_exit(0);
	}
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fail("accept");
		}
		serve(fd);
		close(fd);
	}
}

static int client(int argc, char **argv)
{
	struct sockaddr_in sa;
	uint32_t h[4], a, b = 0;
	int op;
	double t0, t1;
	char ack;

	if (argc < 5)
		usage();
	addr_of(&sa, argv[1], argv[2]);
	if (!strcmp(argv[3], "send") && argc == 5)
		op = OP_SEND;
	else if (!strcmp(argv[3], "recv") && argc == 5)
		op = OP_RECV;
	else if (!strcmp(argv[3], "rr") && argc == 6)
		op = OP_RR;
	else
		usage();
	a = strtoul(argv[4], NULL, 10);
	if (op == OP_RR)
		b = strtoul(argv[5], NULL, 10);
	if ((op != OP_RR && (a == 0 || a > MAX_MIB)) || (op == OP_RR && (a < 2 || b == 0 || b > MAX_SIZE)))
		usage();
	signal(SIGPIPE, SIG_IGN);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		fail("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		fail("connect");
	if (op == OP_RR)
		nodelay(fd);
	h[0] = htonl(MAGIC);
	h[1] = htonl(op);
	h[2] = htonl(a);
	h[3] = htonl(b);
	t0 = now();
	if (full(1, fd, (char *)h, sizeof h) < 0)
		fail("header");
	switch (op) {
	case OP_SEND:
		if (bulk(1, fd, (uint64_t)a << 20) < 0)
			fail("send");
		if (full(0, fd, &ack, 1) < 0)
			fail("acknowledgement");
		t1 = now();
		break;
	case OP_RECV:
		if (bulk(0, fd, (uint64_t)a << 20) < 0)
			fail("recv");
		t1 = now();
		ack = 'k';
		if (full(1, fd, &ack, 1) < 0)
			fail("acknowledgement");
		break;
	default:
		memset(buf, 'r', b);
		for (uint32_t i = 0; i < a; i++)
			if (full(1, fd, buf, b) < 0 || full(0, fd, buf, b) < 0)
				fail("round trip");
		t1 = now();
		break;
	}
	close(fd);
	report("client", op, a, b, t1 - t0);
	return 0;
}

static int port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	addr_of(&sa, "127.0.0.1", "0");
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		fail("bind");
	printf("%u\n", ntohs(sa.sin_port));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "server"))
		return server(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "client"))
		return client(argc - 1, argv + 1);
	if (argc == 2 && !strcmp(argv[1], "port"))
		return port();
	usage();
	return 2;
}
