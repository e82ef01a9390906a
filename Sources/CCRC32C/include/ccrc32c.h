// CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2. In C because the fast path
// is the CPU's crc32 instruction, chosen at run time.
#ifndef SWIFTLET_CCRC32C_H
#define SWIFTLET_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Continues a CRC-32C: pass 0 to start, the previous result to continue.
uint32_t swiftlet_crc32c(uint32_t crc, const void *data, size_t length);

/// The portable table-driven version, exposed so tests can compare both paths.
uint32_t swiftlet_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// 1 when the hardware path is in use.
int swiftlet_crc32c_hardware(void);

#endif
