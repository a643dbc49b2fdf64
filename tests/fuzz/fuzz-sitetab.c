/*
 * fuzz-sitetab.c - libFuzzer over the monitor's reader of a rewritten
 * image's tables (lightvm/sitetab.c): the note, the site table and the
 * trampolines (.lilyvm.pv), any bytes as an ELF file. It must refuse or
 * accept without a sanitizer report; what it accepts must keep its promises:
 * sites sorted without overlap, every trampoline entry inside the code and
 * naming a trampoline site.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lightvm/sitetab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lilyvm_site *sites = NULL;
	struct pv_table pv;
	char err[256];
	size_t n = 0;

	if (sitetab_read(data, size, &sites, &n, &pv, err, sizeof(err)))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (sites[i].addr < sites[i - 1].addr + sites[i - 1].len)
			abort();
	for (size_t i = 0; i < pv.n; i++) {
		const struct lilyvm_site *s = lilyvm_site_find(sites, n, pv.entries[i].site);

		if (pv.entries[i].tramp - LILYVM_PV_CODE >= pv.code_size || !s ||
		    s->form != LILYVM_FORM_PV || sitetab_pv_find(&pv, pv.entries[i].tramp) != &pv.entries[i])
			abort();
	}
	free(sites);
	free(pv.code);
	free(pv.entries);
	return 0;
}
