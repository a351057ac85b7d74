package jail

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Op is a jail(8) operation (reference §2.1).
type Op int

const (
	OpCreate              Op = iota // -c
	OpModify                        // -m
	OpRemove                        // -r
	OpCreateModify                  // -cm: create, or modify if it exists
	OpRestart                       // -rc: remove, then create
	OpModifyRestart                 // -mr: modify, restarting if a creation-only parameter changed
	OpCreateModifyRestart           // -cmr
	OpRemoveNoConf                  // -R: remove without consulting jail.conf
)

// Request is one jail(8) invocation.
type Request struct {
	Op Op
	// Conf is the parsed jail.conf (-f); nil means none.
	Conf *Conf
	// Targets are jail names or jids; "*" means every jail (for
	// removal: every running jail, in jail.conf or not); "foo.*" matches
	// hierarchically. Empty means every jail in jail.conf.
	Targets []string
	// Params are command-line name=value arguments; when given they
	// describe the one jail to act on and jail.conf is not consulted
	// (§2.1).
	Params []string
	// Dying is -d (allow.dying): act on a jail that is still dying.
	Dying bool
	// Exec runs a new jail's command (exec.start, or command= from the
	// command line) as the process attached to the jail, with cred, its
	// credential inside the jail; the jail lives while that process (or
	// any process spawned from cred) does. Exec is called once per
	// command, in jail(8)'s order: each exec.start value (a jail.conf
	// list, "+=" appending) split at white space, then command='s words
	// as given. An error is the command failing: the rest are not run,
	// the jail is removed (persist or not, as jail(8) undoes a failed
	// creation) and Jail8 fails with "jail: NAME: COMLINE: error". nil
	// records commands without running them: the process ends at once.
	Exec func(jail Result, cred *Ucred, argv []string) error
	// Note, if set, hears of each jail as it is done, in order, so a
	// caller can print jail(8)'s "NAME: created" lines between the
	// output of the jails' commands.
	Note func(Result)
}

// Result is what jail(8) did to one jail.
type Result struct {
	Name   string
	JID    int
	Action string // "created", "updated", "removed", "unchanged"
	// Pseudo are the jail(8)-only parameters (exec.*, mount.*, …): they
	// are recorded for the caller, never executed here.
	Pseudo []ConfParam
}

// Jail8 runs a jail(8) request as cred (normally host root). Each jail's
// failure is reported as "jail: NAME: message" and stops the run, as
// jail(8) stops at the first failing jail; results of the jails done
// before it are returned with the error.
func (h *Host) Jail8(cred *Ucred, req Request) ([]Result, error) {
	type job struct {
		name   string
		params []ConfParam
	}
	var jobs []job
	removeOnly := req.Op == OpRemove || req.Op == OpRemoveNoConf
	cmdline := len(req.Params) > 0
	switch {
	case len(req.Params) > 0:
		var ps []ConfParam
		for i, a := range req.Params {
			n, v := ParseParamArg(a)
			if n == "command" {
				// command= (or a bare command) takes the rest of the
				// command line as its arguments (jail(8)).
				v = append(v, req.Params[i+1:]...)
				ps = append(ps, ConfParam{Name: n, Values: v})
				break
			}
			ps = append(ps, ConfParam{Name: n, Values: v, Bare: v == nil})
		}
		ps = lastWins(ps)
		name := ""
		for _, p := range ps {
			if (p.Name == "name" || p.Name == "jid") && len(p.Values) == 1 && name == "" {
				name = p.Values[0]
			}
		}
		if name == "" && len(req.Targets) == 1 {
			name = req.Targets[0]
			ps = append([]ConfParam{{Name: impliedKey(name), Values: []string{name}}}, ps...)
		}
		if name == "" && req.Op != OpCreate {
			// A jail to create may go unnamed: the kernel names it
			// after its jid (§1.2), as jail(8)'s own example does.
			return nil, fmt.Errorf("jail: no jail name or jid given")
		}
		jobs = append(jobs, job{name, ps})
	case removeOnly:
		if len(req.Targets) == 0 {
			return nil, fmt.Errorf("jail: -r needs a jail name")
		}
		names, err := h.expandRunning(cred, req.Targets, req.Conf)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			jobs = append(jobs, job{name: n})
		}
	default:
		if req.Conf == nil {
			return nil, fmt.Errorf("jail: no jail.conf and no parameters")
		}
		var names []string
		if len(req.Targets) == 0 {
			names = req.Conf.Jails()
		} else {
			for _, t := range req.Targets {
				matched := false
				for _, j := range req.Conf.Jails() {
					if t == j || (t == "*" || isWildcard(t)) && wildMatch(t, j) {
						names = append(names, j)
						matched = true
					}
				}
				if !matched && !isWildcard(t) && t != "*" {
					// A jail not in jail.conf is still a valid target
					// (its parameters come from wildcard blocks).
					names = append(names, t)
				}
			}
		}
		for _, n := range names {
			ps, err := req.Conf.Resolve(n)
			if err != nil {
				return nil, fmt.Errorf("jail: %v", err)
			}
			jobs = append(jobs, job{n, ps})
		}
	}
	// Parents before children, and depend= before dependents; removal
	// runs the other way round.
	order := dependOrder(len(jobs), func(i int) (string, []string) {
		var deps []string
		for _, p := range jobs[i].params {
			if p.Name == "depend" {
				deps = append(deps, splitList(p.Values)...)
			}
		}
		return jobs[i].name, deps
	})
	if removeOnly || req.Op == OpRestart {
		for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	var results []Result
	fail := func(name string, err error) ([]Result, error) {
		if name == "" {
			return results, fmt.Errorf("jail: %v", err)
		}
		return results, fmt.Errorf("jail: %s: %v", name, err)
	}
	if req.Op == OpRestart {
		for _, i := range order {
			if jid, ok := h.runningJID(cred, jobs[i].name, req.Dying); ok {
				if err := h.JailRemove(cred, jid); err != nil {
					return fail(jobs[i].name, err)
				}
				results = append(results, Result{Name: jobs[i].name, JID: jid, Action: "removed"})
				req.note(results[len(results)-1])
			}
		}
		for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	for _, i := range order {
		jb := jobs[i]
		var res Result
		var err error
		switch req.Op {
		case OpRemove, OpRemoveNoConf:
			jid, ok := h.runningJID(cred, jb.name, req.Dying)
			if !ok {
				return fail(jb.name, errors.New("jail not found"))
			}
			err = h.JailRemove(cred, jid)
			res = Result{Name: jb.name, JID: jid, Action: "removed"}
		case OpCreate, OpRestart:
			res, err = h.createJob(cred, jb.name, jb.params, cmdline, req.Exec)
		case OpModify, OpModifyRestart:
			res, err = h.modifyJob(cred, jb.name, jb.params, cmdline, req.Op == OpModifyRestart, req.Dying, req.Exec)
		case OpCreateModify, OpCreateModifyRestart:
			if _, ok := h.runningJID(cred, jb.name, req.Dying); ok {
				res, err = h.modifyJob(cred, jb.name, jb.params, cmdline, req.Op == OpCreateModifyRestart, req.Dying, req.Exec)
			} else {
				res, err = h.createJob(cred, jb.name, jb.params, cmdline, req.Exec)
			}
		}
		if err != nil {
			return fail(jb.name, err)
		}
		results = append(results, res)
		req.note(res)
	}
	return results, nil
}

func (req *Request) note(r Result) {
	if req.Note != nil {
		req.Note(r)
	}
}

func impliedKey(name string) string {
	if isDigits(name) {
		return "jid"
	}
	return "name"
}

// lastWins keeps the last of repeated parameters, a later "noX"
// replacing an earlier "X" (§2.2).
func lastWins(ps []ConfParam) []ConfParam {
	var out []ConfParam
	for _, p := range ps {
		replaced := false
		for i := range out {
			if equalOpts(out[i].Name, p.Name) {
				out[i] = p
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, p)
		}
	}
	return out
}

// dependOrder is a stable topological order: a jail comes after its
// hierarchical parent and after the jails it depends on, when those are
// in the same run; otherwise the given order is kept.
func dependOrder(n int, node func(int) (string, []string)) []int {
	names := make([]string, n)
	deps := make([][]string, n)
	for i := 0; i < n; i++ {
		names[i], deps[i] = node(i)
		if k := strings.LastIndexByte(names[i], '.'); k > 0 {
			deps[i] = append(deps[i], names[i][:k])
		}
	}
	index := func(s string) int {
		for i, nm := range names {
			if nm == s {
				return i
			}
		}
		return -1
	}
	var order []int
	state := make([]int, n) // 0 new, 1 visiting, 2 done
	var visit func(int)
	visit = func(i int) {
		if state[i] != 0 {
			return
		}
		state[i] = 1
		for _, d := range deps[i] {
			if j := index(d); j >= 0 && j != i {
				visit(j)
			}
		}
		state[i] = 2
		order = append(order, i)
	}
	for i := 0; i < n; i++ {
		visit(i)
	}
	return order
}

// runningJID finds a live (or, with dying, dying) jail by jid or name as
// cred sees it.
func (h *Host) runningJID(cred *Ucred, name string, dying bool) (int, bool) {
	flags := 0
	if dying {
		flags = JAIL_DYING
	}
	key := StrParam("name", name)
	if isDigits(name) {
		key = IntParam("jid", atoiSafe(name))
	}
	jid, _, err := h.JailGet(cred, []Param{key}, flags)
	return jid, err == nil
}

func atoiSafe(s string) int {
	n := 0
	for i := 0; i < len(s) && n < 1<<30; i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// expandRunning turns removal targets into running jail names: "*" is
// every visible jail, "foo.*" those it matches, anything else itself.
func (h *Host) expandRunning(cred *Ucred, targets []string, conf *Conf) ([]string, error) {
	var out []string
	for _, t := range targets {
		if t != "*" && !isWildcard(t) {
			out = append(out, t)
			continue
		}
		last := 0
		for {
			jid, ps, err := h.JailGet(cred, []Param{IntParam("lastjid", last), StrParam("name", "")}, 0)
			if err != nil {
				break
			}
			last = jid
			n, _ := ps.Str("name")
			if wildMatch(t, n) {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// split separates kernel parameters from jail(8)'s pseudo-parameters and
// imports the kernel ones.
func (h *Host) split(params []ConfParam) (kern []Param, names []string, pseudo []ConfParam, err error) {
	for _, p := range params {
		if strings.HasPrefix(p.Name, "$") {
			continue
		}
		if IsPseudoParam(p.Name) {
			pseudo = append(pseudo, p)
			continue
		}
		kp, err := h.ImportParam(p.Name, p.Values)
		if err != nil {
			return nil, nil, nil, err
		}
		kern = append(kern, kp)
		names = append(names, p.Name)
	}
	return kern, names, pseudo, nil
}

func hasParam(ps []ConfParam, names ...string) bool {
	for _, p := range ps {
		for _, n := range names {
			if p.Name == n {
				return true
			}
		}
	}
	return false
}

// createJob is jail -c for one jail: persist or a command is required.
// With commands the jail is created attached to a new process, which
// runs them through exec (if any) one after the other and then exits,
// so without persist the jail is gone again once the last one ends.
func (h *Host) createJob(cred *Ucred, name string, params []ConfParam, cmdline bool, exec func(Result, *Ucred, []string) error) (Result, error) {
	kern, _, pseudo, err := h.split(params)
	if err != nil {
		return Result{}, err
	}
	persist := false
	for _, p := range kern {
		if p.Name == "persist" {
			persist = true
		}
	}
	cmds := commands(pseudo, cmdline)
	command := hasParam(pseudo, "exec.start", "command")
	if !persist && !command {
		return Result{}, errors.New("neither persist nor exec.start/command specified")
	}
	flags := JAIL_CREATE
	var proc *Proc
	c := cred
	if command {
		flags |= JAIL_ATTACH
		proc, err = h.Spawn(cred)
		if err != nil {
			return Result{}, err
		}
		c = proc.Cred()
	}
	jid, msg, err := h.JailSetIov(c, toIov(kern), flags)
	if err != nil {
		if proc != nil {
			proc.Exit()
		}
		return Result{}, errText(err, msg)
	}
	if name == "" {
		name = strconv.Itoa(jid)
	}
	res := Result{Name: name, JID: jid, Action: "created", Pseudo: pseudo}
	if proc != nil {
		for _, argv := range cmds {
			if exec == nil {
				break
			}
			if err = exec(res, proc.Cred(), argv); err != nil {
				err = fmt.Errorf("%s: %w", comline(argv), err)
				break
			}
		}
		proc.Exit()
		if err != nil {
			// jail(8) undoes a creation whose commands fail: it
			// removes the jail, persist or not (command.c walks the
			// sequence back down through the create step).
			// A jail that ended with its process is already gone.
			_ = h.JailRemove(cred, jid)
			return res, err
		}
	}
	return res, nil
}

// commands lists what a new jail runs, in jail(8)'s order: each
// exec.start value is a command of its own (jail.conf(5) "+=" and comma
// lists make several), split at white space, empty ones skipped; then
// command. command= from the command line is one command whose
// arguments are the words after it (jail(8) execs them as given); in
// jail.conf it is a list like exec.start.
func commands(pseudo []ConfParam, cmdline bool) [][]string {
	var start, cmd [][]string
	for _, p := range pseudo {
		var list [][]string
		switch {
		case p.Name == "command" && cmdline:
			if len(p.Values) > 0 {
				list = [][]string{p.Values}
			}
		case p.Name == "exec.start" || p.Name == "command":
			for _, v := range p.Values {
				if f := strings.Fields(v); len(f) > 0 {
					list = append(list, f)
				}
			}
		default:
			continue
		}
		if p.Name == "command" {
			cmd = list
		} else {
			start = list
		}
	}
	return append(start, cmd...)
}

// comline is a command as jail(8)'s messages show it ("jail: NAME:
// COMLINE: failed"): its words joined by spaces, each quoted when that
// alone would hide what was given (an empty word, or one with white
// space in it).
func comline(argv []string) string {
	plain := true
	for _, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n") {
			plain = false
		}
	}
	if plain {
		return strings.Join(argv, " ")
	}
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, " ")
}

func errText(err error, msg string) error {
	if msg != "" {
		return errors.New(msg)
	}
	return err
}

// modifyJob is jail -m for one jail: creation-only parameters must match
// the running jail ("cannot be changed after creation"), or with
// restart the jail is removed and created again.
func (h *Host) modifyJob(cred *Ucred, name string, params []ConfParam, cmdline, restart, dying bool, exec func(Result, *Ucred, []string) error) (Result, error) {
	jid, ok := h.runningJID(cred, name, dying)
	if !ok {
		return Result{}, errors.New("jail not found")
	}
	kern, names, pseudo, err := h.split(params)
	if err != nil {
		return Result{}, err
	}
	var upd []Param
	for i, p := range kern {
		canon, info, _, _ := h.lookupParam(names[i])
		if !info.rdtun {
			if p.Name != "name" || !isDigits(name) {
				upd = append(upd, p)
			}
			continue
		}
		var v []byte
		if canon == "jid" {
			v = IntParam("jid", jid).Value
		} else {
			_, cur, err := h.JailGet(cred, []Param{IntParam("jid", jid), {Name: canon}}, JAIL_DYING)
			if err != nil {
				return Result{}, err
			}
			v, _ = cur.find(canon)
		}
		if string(v) == string(p.Value) {
			continue
		}
		if !restart {
			return Result{}, fmt.Errorf("%s cannot be changed after creation", canon)
		}
		if err := h.JailRemove(cred, jid); err != nil {
			return Result{}, err
		}
		res, err := h.createJob(cred, name, params, cmdline, exec)
		if err != nil {
			return Result{}, err
		}
		res.Action = "restarted"
		return res, nil
	}
	// Update keyed by jid; the name goes along only if it renames.
	keyed := []Param{IntParam("jid", jid)}
	for _, p := range upd {
		if p.Name == "name" {
			if s, _ := (Params{p}).Str("name"); s == name {
				continue
			}
		}
		keyed = append(keyed, p)
	}
	if _, msg, err := h.JailSetIov(cred, toIov(keyed), JAIL_UPDATE); err != nil {
		return Result{}, errText(err, msg)
	}
	return Result{Name: name, JID: jid, Action: "updated", Pseudo: pseudo}, nil
}

// Describe returns a jail's parameters as jls -n prints them (sorted by
// name, booleans as name/noname), for tests and the CLI.
func (h *Host) Describe(cred *Ucred, jid int) ([]string, error) {
	names := []string{"jid", "parent", "name", "path", "securelevel", "children.cur", "children.max",
		"host.hostname", "host.domainname", "host.hostuuid", "host.hostid", "enforce_statfs",
		"devfs_ruleset", "persist", "dying", "host", "vnet", "ip4", "ip6", "ip4.addr", "ip6.addr",
		"osreldate", "osrelease"}
	for _, a := range h.AllowNames() {
		names = append(names, "allow."+a)
	}
	req := []Param{IntParam("jid", jid)}
	for _, n := range names[1:] {
		req = append(req, Param{Name: n})
	}
	_, ps, err := h.JailGet(cred, req, JAIL_DYING)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range ps {
		s, err := h.FormatParam(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}
