// CRC-32C with the SSE4.2 crc32 instruction (three interleaved streams, combined by
// shifting) when the CPU has it, and slicing-by-8 tables otherwise.
#include "ccrc32c.h"
#include <string.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static uint32_t shift_table_short[4][256];  // multiply by x^(8*SHORT) mod P
static uint32_t shift_table_long[4][256];   // multiply by x^(8*LONG) mod P
static int initialized;
static int hardware;

enum { SHORT_BLOCK = 256, LONG_BLOCK = 8192 };

// Multiplies two polynomials modulo P (bit-reflected).
static uint32_t multiply(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (int i = 0; i < 32; i++) {
        if (a & 0x80000000u) product ^= b;
        a <<= 1;
        b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
    }
    return product;
}

// x^(8*n) mod P, reflected.
static uint32_t power_of_x(size_t bytes) {
    uint32_t result = 0x80000000u;  // x^0
    uint32_t square = 0x40000000u;  // x^1 ... grows as x^(2^k)
    size_t bits = bytes * 8;
    while (bits) {
        if (bits & 1) result = multiply(result, square);
        square = multiply(square, square);
        bits >>= 1;
    }
    return result;
}

static void build_shift_table(uint32_t table_out[4][256], size_t bytes) {
    uint32_t factor = power_of_x(bytes);
    for (int byte = 0; byte < 4; byte++) {
        for (uint32_t value = 0; value < 256; value++) {
            table_out[byte][value] = multiply(value << (8 * byte), factor);
        }
    }
}

static uint32_t shift(uint32_t table_in[4][256], uint32_t crc) {
    return table_in[0][crc & 0xFF] ^ table_in[1][(crc >> 8) & 0xFF]
         ^ table_in[2][(crc >> 16) & 0xFF] ^ table_in[3][crc >> 24];
}

static void initialize(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = n;
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ POLY : crc >> 1;
        table[0][n] = crc;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = table[0][n];
        for (int k = 1; k < 8; k++) {
            crc = table[0][crc & 0xFF] ^ (crc >> 8);
            table[k][n] = crc;
        }
    }
    build_shift_table(shift_table_short, SHORT_BLOCK);
    build_shift_table(shift_table_long, LONG_BLOCK);
#if defined(__x86_64__)
    __builtin_cpu_init();
    hardware = __builtin_cpu_supports("sse4.2") != 0;
#endif
    __atomic_store_n(&initialized, 1, __ATOMIC_RELEASE);
}

static inline void ensure_initialized(void) {
    // Racing first calls all compute the same tables; a benign duplicate init.
    if (!__atomic_load_n(&initialized, __ATOMIC_ACQUIRE)) initialize();
}

uint32_t swiftlet_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    ensure_initialized();
    const uint8_t *bytes = data;
    crc = ~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        uint32_t low = (uint32_t)word ^ crc;
        uint32_t high = (uint32_t)(word >> 32);
        crc = table[7][low & 0xFF] ^ table[6][(low >> 8) & 0xFF] ^ table[5][(low >> 16) & 0xFF]
            ^ table[4][low >> 24] ^ table[3][high & 0xFF] ^ table[2][(high >> 8) & 0xFF]
            ^ table[1][(high >> 16) & 0xFF] ^ table[0][high >> 24];
        bytes += 8;
        length -= 8;
    }
    while (length--) crc = table[0][(crc ^ *bytes++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_hardware(uint32_t crc, const uint8_t *bytes, size_t length) {
    uint64_t crc0 = ~crc;
    // Three streams hide the instruction's 3-cycle latency.
    while (length >= 3 * LONG_BLOCK) {
        uint64_t crc1 = 0, crc2 = 0;
        const uint8_t *end = bytes + LONG_BLOCK;
        do {
            uint64_t a, b, c;
            memcpy(&a, bytes, 8);
            memcpy(&b, bytes + LONG_BLOCK, 8);
            memcpy(&c, bytes + 2 * LONG_BLOCK, 8);
            crc0 = __builtin_ia32_crc32di(crc0, a);
            crc1 = __builtin_ia32_crc32di(crc1, b);
            crc2 = __builtin_ia32_crc32di(crc2, c);
            bytes += 8;
        } while (bytes < end);
        crc0 = shift(shift_table_long, (uint32_t)crc0) ^ crc1;
        crc0 = shift(shift_table_long, (uint32_t)crc0) ^ crc2;
        bytes += 2 * LONG_BLOCK;
        length -= 3 * LONG_BLOCK;
    }
    while (length >= 3 * SHORT_BLOCK) {
        uint64_t crc1 = 0, crc2 = 0;
        const uint8_t *end = bytes + SHORT_BLOCK;
        do {
            uint64_t a, b, c;
            memcpy(&a, bytes, 8);
            memcpy(&b, bytes + SHORT_BLOCK, 8);
            memcpy(&c, bytes + 2 * SHORT_BLOCK, 8);
            crc0 = __builtin_ia32_crc32di(crc0, a);
            crc1 = __builtin_ia32_crc32di(crc1, b);
            crc2 = __builtin_ia32_crc32di(crc2, c);
            bytes += 8;
        } while (bytes < end);
        crc0 = shift(shift_table_short, (uint32_t)crc0) ^ crc1;
        crc0 = shift(shift_table_short, (uint32_t)crc0) ^ crc2;
        bytes += 2 * SHORT_BLOCK;
        length -= 3 * SHORT_BLOCK;
    }
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        crc0 = __builtin_ia32_crc32di(crc0, word);
        bytes += 8;
        length -= 8;
    }
    uint32_t crc32 = (uint32_t)crc0;
    while (length--) crc32 = __builtin_ia32_crc32qi(crc32, *bytes++);
    return ~crc32;
}
#endif

uint32_t swiftlet_crc32c(uint32_t crc, const void *data, size_t length) {
    ensure_initialized();
#if defined(__x86_64__)
    if (hardware) return crc32c_hardware(crc, data, length);
#endif
    return swiftlet_crc32c_portable(crc, data, length);
}

int swiftlet_crc32c_hardware(void) {
    ensure_initialized();
    return hardware;
}
