package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"softvmm/emu/vmm"
	"softvmm/jail"
)

const jailUsage = `usage: softvmm jail [--no-vmm] [--era=current|2018] [--devfs-rules=FILE]
                    [-dilqv] [-f conf_file]
                    [-n name] [-s securelevel] -c|-m|-r|-cm|-rc|-mr|-cmr|-R
                    [param=value ... [command=run [run flags] [IMAGE]]] [jail ...]
                    [';' another invocation ...]

jail(8) over softvmm's emulated FreeBSD kernel: creates, modifies and
removes prisons there, and runs softvmm commands inside them. The kernel
is new for each softvmm jail and starts with vmm loaded, so allow.vmm is
a jail parameter (with --no-vmm it is not: "unknown parameter").

  -c  create          -m  modify          -r  remove (and its children)
  -cm create or modify   -rc restart     -mr modify, restarting if needed
  -cmr create, or modify and maybe restart
  -R  remove without consulting jail.conf
  -d  act on a dying jail (allow.dying)     -f  read jails from conf_file
  -i  print only the jid of created jails   -q  print no messages
  -n name, -s securelevel, -l: the name, securelevel and exec.clean params
  -v  also print each command run

Parameters are name=value, a bare boolean (persist, allow.vmm) or its no
form (allow.novmm); they describe one jail and jail.conf is not read.
command= takes the rest of the line: "command=run IMAGE" boots IMAGE in a
VM made by the jail's root (the embedded demo guest without IMAGE), and
softvmm jail exits with the command's status. Without parameters the jails
(or the named ones, "*" for all) of conf_file are acted on; their
exec.start is a list of softvmm commands ("+=" appends one), run in
turn: the first that fails stops the rest, the jail is removed and its
status is softvmm jail's. A ';' argument ends one jail(8) invocation and
starts the next in the same kernel, so a jail made by the first can be
modified or removed by the next; a final ';' is ignored.

softvmm-only options: --no-vmm leaves vmm.ko unloaded; --era=2018 gives
the FreeBSD 12.0 rule under which any jail with allow.vmm reaches every VM
(the default keeps each VM in the jail that made it, as FreeBSD 14 does);
--devfs-rules=FILE loads devfs.rules(5) rulesets beside the stock ones
(1-5 of /etc/defaults/devfs.rules). A jail's devfs_ruleset decides which
/dev nodes its commands see: ruleset 4, devfsrules_jail, hides /dev/vmm,
so a jail needs one that unhides 'vmm' and 'vmm/*' (and 'vmmctl').
`

// cmdFailed is a jailed command that exited with a non-zero status.
type cmdFailed int

func (c cmdFailed) Error() string { return "failed" }

// jailInvocation is one jail(8) command line.
type jailInvocation struct {
	req     jail.Request
	conf    string // -f
	quiet   bool   // -q
	printID bool   // -i
	verbose bool   // -v
}

// exitJail is jail(8)'s status when a jail cannot be created, modified or
// removed, or a command in it fails to start.
const exitJail = 1

func cmdJail(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	loadVMM, era, rulesFile := true, vmm.EraCurrent, ""
	for len(args) > 0 && strings.HasPrefix(args[0], "--") {
		switch a := args[0]; {
		case a == "--no-vmm":
			loadVMM = false
		case strings.HasPrefix(a, "--devfs-rules="):
			rulesFile = strings.TrimPrefix(a, "--devfs-rules=")
		case a == "--era=2018":
			era = vmm.Era2018
		case a == "--era=current":
			era = vmm.EraCurrent
		case strings.HasPrefix(a, "--era="):
			fmt.Fprintf(stderr, "softvmm jail: bad --era value %q: want current or 2018\n\n%s", strings.TrimPrefix(a, "--era="), jailUsage)
			return exitUsage
		case a == "--help" || a == "-help":
			fmt.Fprint(stdout, jailUsage)
			return exitOK
		case a == "--":
		default:
			fmt.Fprintf(stderr, "softvmm jail: unknown option %s\n\n%s", a, jailUsage)
			return exitUsage
		}
		args = args[1:]
	}
	var invs []jailInvocation
	segs, err := splitInvocations(args)
	if err != nil {
		fmt.Fprintf(stderr, "softvmm jail: %v\n\n%s", err, jailUsage)
		return exitUsage
	}
	for _, seg := range segs {
		inv, err := parseJailArgs(seg)
		if err != nil {
			fmt.Fprintf(stderr, "softvmm jail: %v\n\n%s", err, jailUsage)
			return exitUsage
		}
		invs = append(invs, inv)
	}

	h := jail.NewHost()
	h.InstallStockDevfsRules()
	if rulesFile != "" {
		text, err := readConfigFile(rulesFile)
		if err == nil {
			err = h.LoadDevfsRules(h.RootCred(), string(text))
		}
		if err != nil {
			fmt.Fprintf(stderr, "softvmm jail: %v\n", err)
			return exitJail
		}
	}
	k := vmm.NewKernel(h)
	k.Era = era
	if loadVMM {
		if err := k.Load(); err != nil {
			fmt.Fprintf(stderr, "softvmm jail: kldload vmm: %v\n", err)
			return exitJail
		}
	}
	for _, inv := range invs {
		if status := runJail8(k, inv, stdin, stdout, stderr); status != exitOK {
			return status
		}
	}
	return exitOK
}

// splitInvocations cuts the arguments at each ";". As in sh(1), whose
// command lists the ';' argument mimics, a ';' may end the last
// invocation (the empty segment after it is dropped) but an empty
// invocation between two is an error, as it is for sh ("; ;").
func splitInvocations(args []string) ([][]string, error) {
	out := [][]string{nil}
	for _, a := range args {
		if a == ";" {
			if len(out[len(out)-1]) == 0 {
				return nil, errors.New("empty invocation before ';'")
			}
			out = append(out, nil)
			continue
		}
		out[len(out)-1] = append(out[len(out)-1], a)
	}
	if len(out) > 1 && len(out[len(out)-1]) == 0 {
		out = out[:len(out)-1]
	}
	return out, nil
}

// parseJailArgs reads jail(8)'s options getopt-style ("-cm", "-ffile",
// "-f file"), then decides, as jail(8) does, whether the rest is one
// jail's parameters (more than one argument, or one with '=') or jail
// names.
func parseJailArgs(args []string) (jailInvocation, error) {
	var inv jailInvocation
	var c, m, r, R bool
	var pre []string // parameters that options stand for
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		a := args[0][1:]
		args = args[1:]
		if a == "-" {
			break
		}
		for i := 0; i < len(a); i++ {
			switch ch := a[i]; ch {
			case 'c':
				c = true
			case 'm':
				m = true
			case 'r':
				r = true
			case 'R':
				R = true
			case 'd':
				inv.req.Dying = true
			case 'q':
				inv.quiet = true
			case 'i':
				inv.printID, inv.quiet = true, true
			case 'v':
				inv.verbose = true
			case 'l':
				pre = append(pre, "exec.clean")
			case 'f', 'n', 's':
				v := a[i+1:]
				if v == "" {
					if len(args) == 0 {
						return inv, fmt.Errorf("option -%c needs an argument", ch)
					}
					v, args = args[0], args[1:]
				}
				switch ch {
				case 'f':
					inv.conf = v
				case 'n':
					pre = append(pre, "name="+v)
				case 's':
					pre = append(pre, "securelevel="+v)
				}
				i = len(a)
			default:
				return inv, fmt.Errorf("option -%c is not supported", ch)
			}
		}
	}
	switch {
	case R && !c && !m && !r:
		inv.req.Op = jail.OpRemoveNoConf
	case c && !m && !r && !R:
		inv.req.Op = jail.OpCreate
	case m && !c && !r && !R:
		inv.req.Op = jail.OpModify
	case r && !c && !m && !R:
		inv.req.Op = jail.OpRemove
	case c && m && !r && !R:
		inv.req.Op = jail.OpCreateModify
	case r && c && !m && !R:
		inv.req.Op = jail.OpRestart
	case m && r && !c && !R:
		inv.req.Op = jail.OpModifyRestart
	case c && m && r && !R:
		inv.req.Op = jail.OpCreateModifyRestart
	default:
		return inv, errors.New("one of -c, -m, -r, -cm, -rc, -mr, -cmr or -R is required")
	}
	removal := inv.req.Op == jail.OpRemove || inv.req.Op == jail.OpRemoveNoConf
	switch {
	case !removal && (len(pre) > 0 || len(args) > 1 || len(args) == 1 && strings.Contains(args[0], "=")):
		inv.req.Params = append(pre, args...)
	case len(pre) > 0:
		return inv, errors.New("-n, -s and -l need parameters, not jail names")
	case !removal && inv.conf == "":
		// jail(8) would read /etc/jail.conf; the host's file describes
		// the host's jails, not this emulated kernel's.
		return inv, errors.New("no parameters and no -f conf_file")
	default:
		inv.req.Targets = args
	}
	return inv, nil
}

// runJail8 carries out one invocation as host root and prints what
// jail(8) prints: "NAME: created" (before the jail's command runs),
// "NAME: updated", "NAME: removed", or only the jid with -i.
func runJail8(k *vmm.Kernel, inv jailInvocation, stdin io.Reader, stdout, stderr io.Writer) int {
	h := k.Jails
	if inv.conf != "" && inv.req.Params == nil && inv.req.Op != jail.OpRemoveNoConf {
		conf, err := readJailConf(inv.conf)
		if err != nil {
			fmt.Fprintf(stderr, "softvmm jail: %v\n", err)
			return exitJail
		}
		inv.req.Conf = conf
	}
	announced := map[int]bool{} // looked up, never iterated
	announce := func(r jail.Result, action string) {
		switch {
		case inv.printID && action == "created":
			fmt.Fprintln(stdout, r.JID)
		case !inv.quiet:
			fmt.Fprintf(stdout, "%s: %s\n", r.Name, action)
		}
	}
	status := exitOK
	inv.req.Exec = func(r jail.Result, cred *jail.Ucred, argv []string) error {
		if !announced[r.JID] { // once, before its first command
			announce(r, "created")
			announced[r.JID] = true
		}
		if inv.verbose {
			fmt.Fprintf(stdout, "%s: run command: %s\n", r.Name, strings.Join(argv, " "))
		}
		var s int
		switch argv[0] {
		case "run":
			s = cmdRunIn(k, &vmm.Thread{Cred: cred}, argv[1:], stdin, stdout, stderr)
		default:
			return notACommand(argv[0])
		}
		if s != exitOK {
			status = s
			return cmdFailed(s)
		}
		return nil
	}
	inv.req.Note = func(r jail.Result) {
		switch {
		case r.Action == "restarted":
			announce(r, "removed")
			if !announced[r.JID] {
				announce(r, "created")
			}
		case r.Action == "created" && announced[r.JID]:
		default:
			announce(r, r.Action)
		}
	}
	_, err := h.Jail8(h.RootCred(), inv.req)
	if err != nil {
		// Jail8 words its errors as jail(8) does ("jail: NAME: ...").
		fmt.Fprintf(stderr, "softvmm jail: %s\n", strings.TrimPrefix(err.Error(), "jail: "))
		if status != exitOK {
			return status // the jail's command failed: its status
		}
		return exitJail
	}
	return exitOK
}

// notACommand explains a command word softvmm cannot run in a jail: the
// caller's message already shows the word (quoted if empty or spaced),
// this says what is accepted instead.
func notACommand(word string) error {
	const accepted = `the one command a jail runs here is "run [run flags] [IMAGE]"`
	switch f := strings.Fields(word); {
	case word == "":
		return fmt.Errorf("empty command: %s, as in command=run IMAGE", accepted)
	case len(f) > 1 && f[0] == "run":
		return fmt.Errorf("not a softvmm command: command= takes its words as separate arguments, so write command=%s unquoted; %s", word, accepted)
	}
	return fmt.Errorf("not a softvmm command: %s", accepted)
}

// readJailConf parses conf_file, with includes resolved from the real
// root. The file is read by the name given, so errors name it so.
func readJailConf(name string) (*jail.Conf, error) {
	text, err := readConfigFile(name)
	if err != nil {
		return nil, err
	}
	return jail.ParseConfString(os.DirFS("/"), name, string(text))
}

// maxConfigFile bounds a jail.conf or devfs.rules file: real ones are a
// few kilobytes, and an endless one (/dev/zero) must fail with a message
// rather than exhaust the host's memory.
const maxConfigFile = 16 << 20

func readConfigFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, err // *PathError: "read NAME: ..."
	}
	if len(b) > maxConfigFile {
		return nil, fmt.Errorf("%s: larger than %d MiB, not a configuration file", name, maxConfigFile>>20)
	}
	return b, nil
}
