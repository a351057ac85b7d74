// Package reftest checks a device package's coverage table against its
// tests, so that "every row of the reference section has a test" (issue 5)
// is something `go test` can refuse rather than something a reviewer has
// to trust.
//
// A device package lists each row of its section of
// reference/vmm-devices.md (one register, reset value, read-only bit,
// write side effect or §12 known-bug item) as a Row naming the test that
// checks it. That test carries the row's tag, `§<Sec> row "<Row>"`, in a
// comment inside or above the function. Check fails when a named test is
// missing or lacks the tag, when a tag in the package's tests is not in
// the table (a typo or a row dropped from the table), or when a row is
// listed twice. Rows that no device-level test can check (wiring done in
// emu/vmm, a kernel panic softvmm refuses to reproduce) have no Test and
// must say why in Note.
package reftest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Row is one row of a reference section and the test that covers it:
// {section ("2.2", "12.13"), the row's name in that section ("TPR"), the
// test functions carrying the tag (space-separated; "" if the row is not
// device-level), a note (required when there is no test: why, and where
// it is covered)}. An array, not a struct, so tables stay one short line
// a row without vet's keyed-field rule.
type Row [4]string

// Tag is the comment text a covering test carries for r.
func (r Row) Tag() string { return fmt.Sprintf("§%s row %q", r[0], r[1]) }

var tagRE = regexp.MustCompile(`§([0-9.]+) row "([^"]+)"`)

// Check verifies rows against the _test.go files of the package in the
// current directory (go test runs each package in its own directory).
func Check(t *testing.T, rows []Row) {
	t.Helper()
	problems, covered, err := Problems(".", rows)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("reference rows: %d, covered by a device-level test: %d", len(rows), covered)
}

// Problems lists what is wrong between rows and the tags in dir's
// _test.go files, and counts the rows that name a test.
func Problems(dir string, rows []Row) (problems []string, covered int, err error) {
	tags, err := testTags(dir)
	if err != nil {
		return nil, 0, err
	}
	seen := map[string]bool{}
	for _, r := range rows {
		tag := r.Tag()
		if seen[tag] {
			problems = append(problems, tag+" listed twice")
		}
		seen[tag] = true
		if r[2] == "" {
			if r[3] == "" {
				problems = append(problems, tag+": no test and no note saying why")
			}
			continue
		}
		for _, name := range strings.Fields(r[2]) {
			if !tags[tag][name] {
				problems = append(problems, fmt.Sprintf("%s: test %s does not carry the tag (or does not exist)", tag, name))
			}
		}
		covered++
	}
	var extra []string
	for tag := range tags {
		if !seen[tag] {
			extra = append(extra, tag)
		}
	}
	sort.Strings(extra)
	for _, tag := range extra {
		problems = append(problems, tag+" appears in a test but not in the coverage table")
	}
	return problems, covered, nil
}

// testTags maps each row tag found in the directory's _test.go files to
// the set of test functions carrying it (in the doc comment or body).
func testTags(dir string) (map[string]map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Test") {
				continue
			}
			start, end := fn.Pos(), fn.End()
			if fn.Doc != nil {
				start = fn.Doc.Pos()
			}
			for _, cg := range f.Comments {
				if cg.Pos() < start || cg.End() > end {
					continue
				}
				for _, m := range tagRE.FindAllStringSubmatch(cg.Text(), -1) {
					tag := fmt.Sprintf("§%s row %q", m[1], m[2])
					if out[tag] == nil {
						out[tag] = map[string]bool{}
					}
					out[tag][fn.Name.Name] = true
				}
			}
		}
	}
	return out, nil
}

// FREQ2BT is sys/time.h's FREQ2BT for a frequency in Hz, as the 64-bit
// binary fraction of a second it yields, and bttosbt of it (the sbintime
// length of one period): the reference §0 tick-table formulas, written
// here so device tests check their tick constants against the formula
// rather than against themselves.
func FREQ2BT(hz uint64) (frac uint64, sbt int64) {
	frac = (1 << 63 / hz) << 1
	return frac, int64(frac >> 32)
}
