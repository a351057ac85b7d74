package boot

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
)

// testdata/demo.out is what demo.elf must print. Its checksum line is held to
// Go's hash/crc32 (an oracle none of us wrote), and the string it names must
// be the banner in demo.elf's text, which is what the guest checksums.
func TestDemoOutChecksum(t *testing.T) {
	out := string(readTestdata(t, "demo.out"))
	const subject = "softvmm demo guest"
	want := fmt.Sprintf("crc32(%q) = 0x%08x\n", subject, crc32.ChecksumIEEE([]byte(subject)))
	if !strings.Contains(out, want) {
		t.Errorf("demo.out lacks %q:\n%s", want, out)
	}
	if !strings.HasPrefix(out, subject+"\n") {
		t.Errorf("demo.out does not start with the banner %q", subject)
	}
	if !bytes.Contains(readTestdata(t, "demo.elf"), []byte(subject+"\n\x00")) {
		t.Errorf("demo.elf does not hold the banner %q the checksum is over", subject)
	}
}
