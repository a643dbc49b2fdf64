/*
 * net.c - the machine's network back end (--net TYPE[,OPTIONS]) and the
 * services that join it to the NIC model: the back end registered under
 * TYPE (NET_BACKEND_REGISTER, found through a linker section as devices
 * are) is created before the devices; the NIC attaches to it and frames
 * pass between them through vm_net_send() and vm_net_receive().
 */
#include <stdio.h>
#include <string.h>

#include "lightvm/log.h"
#include "lightvm/net.h"
#include "lightvm/vm.h"

extern const struct net_backend_ops *const __start_lilyvm_net_backends[] __attribute__((weak));
extern const struct net_backend_ops *const __stop_lilyvm_net_backends[] __attribute__((weak));

/* The back end registered as the first len bytes of type, or NULL. */
static const struct net_backend_ops *find_backend(const char *type, size_t len)
{
	for (const struct net_backend_ops *const *e = __start_lilyvm_net_backends;
	     e < __stop_lilyvm_net_backends; e++)
		if (strlen((*e)->name) == len && !strncmp((*e)->name, type, len))
			return *e;
	return NULL;
}

/* The registered back-end names, for messages. */
static void backend_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (const struct net_backend_ops *const *e = __start_lilyvm_net_backends;
	     e < __stop_lilyvm_net_backends && used < len; e++)
		used += snprintf(buf + used, len - used, "%s%s", used ? ", " : "", (*e)->name);
}

int net_start(struct vm *vm, const char *spec, char *err, size_t errlen)
{
	const char *comma = strchr(spec, ',');
	size_t len = comma ? (size_t)(comma - spec) : strlen(spec);
	const struct net_backend_ops *ops = find_backend(spec, len);
	char names[128];

	if (!ops) {
		backend_names(names, sizeof(names));
		snprintf(err, errlen, "--net %.*s: unknown network type (this monitor has: %s)",
			 (int)len, spec, *names ? names : "none");
		return -1;
	}
	if (ops->create(vm, comma ? comma + 1 : "", &vm->net_be, err, errlen))
		return -1;
	vm->net_ops = ops;
	return 0;
}

void net_stop(struct vm *vm)
{
	if (vm->net_ops)
		vm->net_ops->destroy(vm->net_be);
	vm->net_ops = NULL;
	vm->net_be = NULL;
}

int vm_net_present(struct vm *vm)
{
	return vm->net_ops != NULL;
}

void vm_net_attach_nic(struct vm *vm, void (*receive)(void *nic, const uint8_t *frame, size_t len),
		       void *nic)
{
	vm->nic_receive = receive;
	vm->nic = nic;
}

unsigned vm_net_mtu(struct vm *vm)
{
	return vm->net_ops ? vm->net_ops->mtu(vm->net_be) : 1500;
}

void vm_net_send(struct vm *vm, const uint8_t *frame, size_t len)
{
	trace(TRACE_NET, "guest sends a frame of %zu bytes", len);
	if (vm->net_ops)
		vm->net_ops->send(vm->net_be, frame, len);
}

void vm_net_receive(struct vm *vm, const uint8_t *frame, size_t len)
{
	trace(TRACE_NET, "host sends a frame of %zu bytes", len);
	if (vm->nic_receive)
		vm->nic_receive(vm->nic, frame, len);
}
