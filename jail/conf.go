package jail

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// jail.conf(5) (reference §2.3): blocks `name { param; param = value;
// param += value; $var = value; }`, parameters outside any block acting
// as a global wildcard, `*` and `foo.*` wildcard blocks, values as bare
// tokens or single/double-quoted strings with C escapes and
// backslash-newline continuation, comma lists, $name and ${name}
// substitution (bare tokens and double quotes only), `.include "glob";`,
// and # // /* */ comments.

// piece is part of a value: literal text, or (subst) a variable
// reference still to be resolved per jail.
type piece struct {
	text  string
	subst bool
}

type value []piece

// confParam is one statement: name (a "$var" for variables), its values,
// whether it was "+=", and where it was written.
type confParam struct {
	name   string
	values []value
	append bool
	bare   bool // no "=": a boolean
	pos    string
}

// section is a jail block (or the implicit global one).
type section struct {
	pattern string // "" for statements outside any block
	params  []confParam
	pos     string
}

// Conf is a parsed jail.conf: sections in file order, includes expanded.
type Conf struct {
	sections []section
}

// ConfError is a jail.conf syntax or semantic error with its place.
type ConfError struct {
	File string
	Line int
	Msg  string
}

func (e *ConfError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ParseConf parses jail.conf text held in fsys at name (an fs.FS path:
// a leading "/" is dropped, so "/etc/jail.conf" is "etc/jail.conf"
// there). `.include` patterns are globbed in the same fsys; a pattern
// matching nothing is not an error, a named file that is missing is.
func ParseConf(fsys fs.FS, name string) (*Conf, error) {
	c := &Conf{}
	if err := c.parseFile(fsys, name, 0); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseDefaultConf reads jail(8)'s default configuration from fsys:
// /etc/jail.conf, then /etc/jail.*.conf and /etc/jail.conf.d/*.conf
// (§2.3), each only if present.
func ParseDefaultConf(fsys fs.FS) (*Conf, error) {
	c := &Conf{}
	var files []string
	if _, err := fs.Stat(fsys, "etc/jail.conf"); err == nil {
		files = append(files, "etc/jail.conf")
	}
	for _, pat := range []string{"etc/jail.*.conf", "etc/jail.conf.d/*.conf"} {
		m, _ := fs.Glob(fsys, pat)
		files = append(files, m...)
	}
	for _, f := range files {
		if err := c.parseFile(fsys, "/"+f, 0); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ParseConfString parses jail.conf text given inline (includes resolve
// in fsys, which may be nil when there are none).
func ParseConfString(fsys fs.FS, name, text string) (*Conf, error) {
	c := &Conf{}
	if err := c.parse(fsys, name, text, 0); err != nil {
		return nil, err
	}
	return c, nil
}

func fsPath(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }

func (c *Conf) parseFile(fsys fs.FS, name string, depth int) error {
	if fsys == nil {
		return fmt.Errorf("%s: no file system for includes", name)
	}
	b, err := fs.ReadFile(fsys, fsPath(name))
	if err != nil {
		// fsys knows the file by its fs.FS path; the message names it
		// as it was written ("/etc/jail.conf", not "etc/jail.conf").
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
		}
		return fmt.Errorf("%s: %v", name, err)
	}
	return c.parse(fsys, name, string(b), depth)
}

// token kinds
const (
	tEOF = iota
	tWord
	tLBrace
	tRBrace
	tSemi
	tEq
	tPlusEq
	tComma
)

type token struct {
	kind  int
	val   value // tWord
	quote bool  // any part quoted
	line  int
	raw   string
}

type lexer struct {
	src  string
	i    int
	line int
	file string
}

func (l *lexer) errf(line int, format string, a ...any) error {
	return &ConfError{File: l.file, Line: line, Msg: fmt.Sprintf(format, a...)}
}

func isSpecial(c byte) bool {
	return c == '{' || c == '}' || c == ';' || c == '=' || c == ',' || c == '"' || c == '\'' ||
		c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#'
}

// skip passes white space, comments and backslash-newlines.
func (l *lexer) skip() error {
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == '\n':
			l.line++
			l.i++
		case c == ' ' || c == '\t' || c == '\r':
			l.i++
		case c == '\\' && l.i+1 < len(l.src) && l.src[l.i+1] == '\n':
			l.line++
			l.i += 2
		case c == '#' || strings.HasPrefix(l.src[l.i:], "//"):
			for l.i < len(l.src) && l.src[l.i] != '\n' {
				l.i++
			}
		case strings.HasPrefix(l.src[l.i:], "/*"):
			start := l.line
			end := strings.Index(l.src[l.i+2:], "*/")
			if end < 0 {
				return l.errf(start, "unterminated comment")
			}
			l.line += strings.Count(l.src[l.i:l.i+2+end], "\n")
			l.i += end + 4
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) next() (token, error) {
	if err := l.skip(); err != nil {
		return token{}, err
	}
	if l.i >= len(l.src) {
		return token{kind: tEOF, line: l.line}, nil
	}
	line := l.line
	c := l.src[l.i]
	switch c {
	case '{':
		l.i++
		return token{kind: tLBrace, line: line, raw: "{"}, nil
	case '}':
		l.i++
		return token{kind: tRBrace, line: line, raw: "}"}, nil
	case ';':
		l.i++
		return token{kind: tSemi, line: line, raw: ";"}, nil
	case '=':
		l.i++
		return token{kind: tEq, line: line, raw: "="}, nil
	case ',':
		l.i++
		return token{kind: tComma, line: line, raw: ","}, nil
	case '+':
		if l.i+1 < len(l.src) && l.src[l.i+1] == '=' {
			l.i += 2
			return token{kind: tPlusEq, line: line, raw: "+="}, nil
		}
	}
	// A word: adjacent bare and quoted parts join into one value.
	var v value
	quoted := false
	start := l.i
	lit := func(s string) {
		if n := len(v); n > 0 && !v[n-1].subst {
			v[n-1].text += s
		} else {
			v = append(v, piece{text: s})
		}
	}
	for l.i < len(l.src) {
		c := l.src[l.i]
		if c == '+' && l.i+1 < len(l.src) && l.src[l.i+1] == '=' {
			break
		}
		if c == '/' && l.i+1 < len(l.src) && (l.src[l.i+1] == '/' || l.src[l.i+1] == '*') {
			break
		}
		switch {
		case c == '\'':
			quoted = true
			end := strings.IndexByte(l.src[l.i+1:], '\'')
			if end < 0 {
				return token{}, l.errf(line, "unterminated quote")
			}
			s := l.src[l.i+1 : l.i+1+end]
			l.line += strings.Count(s, "\n")
			lit(s)
			l.i += end + 2
			continue
		case c == '"':
			quoted = true
			l.i++
			for {
				if l.i >= len(l.src) {
					return token{}, l.errf(line, "unterminated quote")
				}
				c := l.src[l.i]
				if c == '"' {
					l.i++
					break
				}
				if err := l.char(&v, lit, true); err != nil {
					return token{}, err
				}
			}
			continue
		case isSpecial(c):
		default:
			if err := l.char(&v, lit, false); err != nil {
				return token{}, err
			}
			continue
		}
		break
	}
	if l.i == start {
		return token{}, l.errf(line, "syntax error near \"%c\"", c)
	}
	if v == nil {
		v = value{{text: ""}}
	}
	return token{kind: tWord, val: v, quote: quoted, line: line, raw: l.src[start:l.i]}, nil
}

// char consumes one character (or escape, or variable reference) of a
// bare word or a double-quoted string.
func (l *lexer) char(v *value, lit func(string), inQuote bool) error {
	c := l.src[l.i]
	switch c {
	case '\n':
		l.line++
		lit("\n")
		l.i++
	case '\\':
		if l.i+1 >= len(l.src) {
			l.i++
			return nil
		}
		e := l.src[l.i+1]
		l.i += 2
		switch e {
		case '\n':
			l.line++
		case 'n':
			lit("\n")
		case 't':
			lit("\t")
		case 'r':
			lit("\r")
		case 'a':
			lit("\a")
		case 'b':
			lit("\b")
		case 'f':
			lit("\f")
		case 'v':
			lit("\v")
		case 'x':
			j := l.i
			for j < len(l.src) && j < l.i+2 && isHex(l.src[j]) {
				j++
			}
			if j == l.i {
				lit("x")
				break
			}
			n, _ := strconv.ParseUint(l.src[l.i:j], 16, 8)
			lit(string([]byte{byte(n)}))
			l.i = j
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := l.i - 1
			for j < len(l.src) && j < l.i+2 && l.src[j] >= '0' && l.src[j] <= '7' {
				j++
			}
			n, _ := strconv.ParseUint(l.src[l.i-1:j], 8, 16)
			lit(string([]byte{byte(n)}))
			l.i = j
		default:
			lit(string(e))
		}
	case '$':
		if l.i+1 < len(l.src) && l.src[l.i+1] == '{' {
			end := strings.IndexByte(l.src[l.i+2:], '}')
			if end < 0 {
				return l.errf(l.line, "unterminated variable reference")
			}
			name := l.src[l.i+2 : l.i+2+end]
			if name == "" {
				return l.errf(l.line, "empty variable name")
			}
			*v = append(*v, piece{text: name, subst: true})
			l.i += end + 3
			return nil
		}
		j := l.i + 1
		for j < len(l.src) && isVarChar(l.src[j]) {
			j++
		}
		if j == l.i+1 {
			lit("$")
			l.i++
			return nil
		}
		*v = append(*v, piece{text: l.src[l.i+1 : j], subst: true})
		l.i = j
	default:
		lit(string(c))
		l.i++
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isVarChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (v value) literal() (string, bool) {
	var b strings.Builder
	for _, p := range v {
		if p.subst {
			return "", false
		}
		b.WriteString(p.text)
	}
	return b.String(), true
}

const maxIncludeDepth = 16

func (c *Conf) parse(fsys fs.FS, file, text string, depth int) error {
	l := &lexer{src: text, line: 1, file: file}
	pos := func(line int) string { return fmt.Sprintf("%s:%d", file, line) }
	var cur *section // nil: top level
	global := func() *section {
		if n := len(c.sections); n > 0 && c.sections[n-1].pattern == "" {
			return &c.sections[n-1]
		}
		c.sections = append(c.sections, section{pos: pos(l.line)})
		return &c.sections[len(c.sections)-1]
	}
	for {
		t, err := l.next()
		if err != nil {
			return err
		}
		switch t.kind {
		case tEOF:
			if cur != nil {
				return l.errf(t.line, "syntax error: unexpected end of file (missing \"}\")")
			}
			return nil
		case tSemi:
			continue
		case tRBrace:
			if cur == nil {
				return l.errf(t.line, "syntax error near \"}\"")
			}
			cur = nil
			continue
		case tWord:
		default:
			return l.errf(t.line, "syntax error near \"%s\"", t.raw)
		}
		name, ok := t.val.literal()
		if !ok && len(t.val) == 1 && !t.quote {
			// "$var = value;" defines a variable.
			name, ok = "$"+t.val[0].text, true
		}
		if !ok || name == "" {
			return l.errf(t.line, "syntax error near \"%s\"", t.raw)
		}
		if name == ".include" && !t.quote {
			pt, err := l.next()
			if err != nil {
				return err
			}
			pat, ok := pt.val.literal()
			if pt.kind != tWord || !ok {
				return l.errf(pt.line, ".include: file name expected")
			}
			if st, err := l.next(); err != nil {
				return err
			} else if st.kind != tSemi {
				return l.errf(st.line, "syntax error near \"%s\"", st.raw)
			}
			if depth >= maxIncludeDepth {
				return l.errf(t.line, ".include: nested too deeply")
			}
			if fsys == nil {
				return l.errf(t.line, ".include \"%s\": no file system", pat)
			}
			matches, err := fs.Glob(fsys, fsPath(pat))
			if err != nil {
				return l.errf(t.line, ".include \"%s\": %v", pat, err)
			}
			if len(matches) == 0 && !strings.ContainsAny(pat, "*?[") {
				return l.errf(t.line, ".include \"%s\": file does not exist", pat)
			}
			saved := cur
			if cur != nil {
				return l.errf(t.line, ".include inside a jail block")
			}
			for _, m := range matches {
				if err := c.parseFile(fsys, "/"+m, depth+1); err != nil {
					return err
				}
			}
			cur = saved
			continue
		}
		nt, err := l.next()
		if err != nil {
			return err
		}
		if nt.kind == tLBrace {
			if cur != nil {
				return l.errf(nt.line, "syntax error near \"{\" (nested jail block)")
			}
			if strings.HasPrefix(name, "$") {
				return l.errf(t.line, "syntax error near \"{\"")
			}
			c.sections = append(c.sections, section{pattern: name, pos: pos(t.line)})
			cur = &c.sections[len(c.sections)-1]
			continue
		}
		p := confParam{name: name, pos: pos(t.line)}
		switch nt.kind {
		case tSemi:
			p.bare = true
		case tEq, tPlusEq:
			p.append = nt.kind == tPlusEq
			for finished := false; !finished; {
				vt, err := l.next()
				if err != nil {
					return err
				}
				if vt.kind != tWord {
					if vt.kind == tSemi && len(p.values) == 0 {
						// "name = ;" is an empty value.
						p.values = []value{{{text: ""}}}
						break
					}
					return l.errf(vt.line, "syntax error near \"%s\"", vt.raw)
				}
				p.values = append(p.values, vt.val)
				st, err := l.next()
				if err != nil {
					return err
				}
				switch st.kind {
				case tSemi:
					finished = true
				case tComma:
				default:
					return l.errf(st.line, "syntax error near \"%s\" (missing \";\"?)", st.raw)
				}
			}
		default:
			return l.errf(nt.line, "syntax error near \"%s\" (missing \";\"?)", nt.raw)
		}
		if strings.HasPrefix(name, "$") && p.bare {
			return l.errf(t.line, "%s: variable needs a value", name)
		}
		if cur != nil {
			if name == "name" || name == "jid" {
				if !isWildcard(cur.pattern) {
					return l.errf(t.line, "%s: cannot redefine variable", name)
				}
			}
			cur.params = append(cur.params, p)
		} else {
			g := global()
			g.params = append(g.params, p)
		}
	}
}

func isWildcard(pattern string) bool {
	return pattern == "*" || strings.HasPrefix(pattern, "*.") || strings.HasSuffix(pattern, ".*") || strings.Contains(pattern, ".*.")
}

// wildMatch matches a hierarchical jail name against a block pattern: a
// non-final "*" component matches exactly one component, a final one
// matches one or more (§2.3).
func wildMatch(pattern, name string) bool {
	if pattern == name {
		return true
	}
	pp := strings.Split(pattern, ".")
	np := strings.Split(name, ".")
	for i, c := range pp {
		if i >= len(np) {
			return false
		}
		if c == "*" {
			if i == len(pp)-1 {
				return true
			}
			continue
		}
		if c != np[i] {
			return false
		}
	}
	return len(pp) == len(np)
}

// Jails lists the jails jail.conf defines (non-wildcard blocks), in file
// order, each once.
func (c *Conf) Jails() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range c.sections {
		if s.pattern == "" || isWildcard(s.pattern) || seen[s.pattern] {
			continue
		}
		seen[s.pattern] = true
		out = append(out, s.pattern)
	}
	return out
}

// Has reports whether jail.conf has a block for name.
func (c *Conf) Has(name string) bool {
	for _, j := range c.Jails() {
		if j == name {
			return true
		}
	}
	return false
}

// ConfParam is one resolved parameter of a jail: a name (the last
// spelling given, so allow.novmm after allow.vmm stays allow.novmm) and
// its values after substitution; Bare marks a boolean written without
// "=".
type ConfParam struct {
	Name   string
	Values []string
	Bare   bool
}

type entry struct {
	name   string
	values []value
	bare   bool
	pos    string
}

// Resolve computes the parameters of jail name: every section that
// matches it (the global statements, wildcard blocks and its own
// block), applied in file order so later statements override earlier
// ones and "+=" appends; then the implied name (or jid, for a numeric
// block name), then variable substitution. $-variables are resolved but
// not returned.
func (c *Conf) Resolve(name string) ([]ConfParam, error) {
	var ents []*entry
	find := func(n string) int {
		for i, e := range ents {
			if e.name == n || (!strings.HasPrefix(n, "$") && equalOpts(e.name, n)) {
				return i
			}
		}
		return -1
	}
	for _, s := range c.sections {
		if s.pattern != "" && !wildMatch(s.pattern, name) {
			continue
		}
		for _, p := range s.params {
			i := find(p.name)
			switch {
			case i >= 0 && p.append && ents[i].name == p.name:
				ents[i].values = append(append([]value(nil), ents[i].values...), p.values...)
			case i >= 0:
				ents[i] = &entry{p.name, p.values, p.bare, p.pos}
			default:
				ents = append(ents, &entry{p.name, p.values, p.bare, p.pos})
			}
		}
	}
	implied := "name"
	if isDigits(name) {
		implied = "jid"
	}
	if i := find(implied); i >= 0 {
		ents[i].values = []value{{{text: name}}}
	} else {
		ents = append([]*entry{{name: implied, values: []value{{{text: name}}}}}, ents...)
	}
	r := &resolver{ents: ents, done: map[string][]string{}, busy: map[string]bool{}, jail: name}
	var out []ConfParam
	for _, e := range ents {
		vals, err := r.resolve(e)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(e.name, "$") {
			continue
		}
		out = append(out, ConfParam{Name: e.name, Values: vals, Bare: e.bare})
	}
	return out, nil
}

type resolver struct {
	ents []*entry
	done map[string][]string // looked up by name, never iterated
	busy map[string]bool
	jail string
}

func (r *resolver) lookup(name string) *entry {
	for _, e := range r.ents {
		if e.name == name {
			return e
		}
	}
	return nil
}

func (r *resolver) resolve(e *entry) ([]string, error) {
	if v, ok := r.done[e.name]; ok {
		return v, nil
	}
	if r.busy[e.name] {
		return nil, fmt.Errorf("%s: %s: %s: variable loop", e.pos, r.jail, e.name)
	}
	r.busy[e.name] = true
	defer delete(r.busy, e.name)
	var out []string
	for _, v := range e.values {
		if len(v) == 1 && v[0].subst {
			vals, err := r.ref(e, v[0].text)
			if err != nil {
				return nil, err
			}
			out = append(out, vals...)
			continue
		}
		var b strings.Builder
		for _, p := range v {
			if !p.subst {
				b.WriteString(p.text)
				continue
			}
			vals, err := r.ref(e, p.text)
			if err != nil {
				return nil, err
			}
			if len(vals) > 1 {
				return nil, fmt.Errorf("%s: %s: %s: array cannot be substituted inline", e.pos, r.jail, e.name)
			}
			if len(vals) == 1 {
				b.WriteString(vals[0])
			}
		}
		out = append(out, b.String())
	}
	r.done[e.name] = out
	return out, nil
}

func (r *resolver) ref(from *entry, name string) ([]string, error) {
	t := r.lookup("$" + name)
	if t == nil {
		t = r.lookup(name)
	}
	if t == nil {
		return nil, fmt.Errorf("%s: %s: %s: variable \"%s\" not found", from.pos, r.jail, from.name, name)
	}
	return r.resolve(t)
}
