/*
 * symbols.h - kernel symbol lookup for messages and backtraces.
 */
#ifndef LIGHTVM_SYMBOLS_H
#define LIGHTVM_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

struct symtab;

/* Read the symbol tables of an ELF image (an empty table if it has none). */
struct symtab *symtab_load(const uint8_t *image, size_t len);
/* Format addr as "0xADDR <symbol+0xoff>" into buf. */
const char *symtab_describe(const struct symtab *t, uint32_t addr, char *buf, size_t len);
/* Address of the symbol at or below addr, or 0 if none. */
uint32_t symtab_start(const struct symtab *t, uint32_t addr);
/* Free a table. */
void symtab_free(struct symtab *t);

#endif
