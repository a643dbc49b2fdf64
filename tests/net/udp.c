/*
 * udp.c - the guest's UDP tool for the network session (tests/net/session.sh):
 * busybox's nc in Debian's busybox-static has no UDP mode, and nothing else
 * in busybox listens on a UDP port of one's choosing. Built on the host with
 * `gcc -m32 -static` and put in the guest's /usr/local/bin.
 *
 *   udp send ADDR PORT TEXT...   one datagram per TEXT to ADDR:PORT
 *   udp recv PORT COUNT FILE     bind 0.0.0.0:PORT, then return at once: a
 *                                child receives COUNT datagrams (at most 60 s)
 *                                and then writes FILE, one line per datagram
 *                                ("from ADDR: TEXT"), whole (made as FILE.new
 *                                and renamed)
 *
 * recv returns only once the port is bound, so that a datagram the host
 * sends after the shell's next prompt cannot arrive before the socket
 * exists; and it returns at once, so that the host can send while the child
 * waits. The sender's port is not printed: slirp picks it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: udp send ADDR PORT TEXT... | udp recv PORT COUNT FILE\n");
	return 2;
}

static int do_send(const char *addr, const char *port, char **texts, int n)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	int fd, i;

	if (inet_pton(AF_INET, addr, &to.sin_addr) != 1)
		return usage();
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("udp: socket");
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (sendto(fd, texts[i], strlen(texts[i]), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
			perror("udp: sendto");
			return 1;
		}
	}
	printf("sent %d datagrams\n", n);
	return 0;
}

/* The child's side of recv: up to COUNT datagrams in 60 s into FILE. */
static int receive(int fd, int count, const char *file)
{
	char tmp[4096], buf[2048], from[INET_ADDRSTRLEN];
	struct sockaddr_in src;
	socklen_t len;
	time_t end = time(NULL) + 60;
	FILE *f;
	int got = 0;

	snprintf(tmp, sizeof(tmp), "%s.new", file);
	f = fopen(tmp, "w");
	if (!f)
		return 1;
	while (got < count && time(NULL) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 1000) <= 0)
			continue;
		len = sizeof(src);
		n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&src, &len);
		if (n < 0)
			continue;
		buf[n] = '\0';
		inet_ntop(AF_INET, &src.sin_addr, from, sizeof(from));
		fprintf(f, "from %s: %s\n", from, buf);
		got++;
	}
	if (got < count)
		fprintf(f, "timed out after %d of %d datagrams\n", got, count);
	if (fclose(f) != 0 || rename(tmp, file) != 0)
		return 1;
	return 0;
}

static int do_recv(const char *port, const char *count, const char *file)
{
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	pid_t pid;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		perror("udp: bind");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("udp: fork");
		return 1;
	}
	if (pid == 0) {
		/* Off the shell's terminal: the child outlives the command. */
		setsid();
		_exit(receive(fd, atoi(count), file));
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "send") == 0)
		return do_send(argv[2], argv[3], argv + 4, argc - 4);
	if (argc == 5 && strcmp(argv[1], "recv") == 0)
		return do_recv(argv[2], argv[3], argv[4]);
	return usage();
}
