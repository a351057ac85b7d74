/* Runs crc32.S (the demo's checksum routine) natively: crc32.host STRING. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

uint32_t demo_crc32(const void *p, size_t n);

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: crc32.host STRING\n");
		return 2;
	}
	printf("0x%08x\n", demo_crc32(argv[1], strlen(argv[1])));
	return 0;
}
