package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository root, relative to this package.
const repoRoot = "../.."

// mdDoc is a Markdown file's headings and fenced code blocks, in order.
type mdDoc struct {
	headings []string // "##" levels only, e.g. "##", "###"
	titles   []string
	blocks   []mdBlock
}

// mdBlock is one fenced code block.
type mdBlock struct {
	lang, body string
}

// parseMarkdown reads the headings (outside code blocks) and the code
// blocks of a Markdown file.
func parseMarkdown(t *testing.T, path string) mdDoc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(thisDir, repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	var d mdDoc
	var cur *mdBlock
	var body strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			if cur == nil {
				cur = &mdBlock{lang: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
				body.Reset()
				continue
			}
			cur.body = body.String()
			d.blocks = append(d.blocks, *cur)
			cur = nil
			continue
		}
		if cur != nil {
			body.WriteString(line + "\n")
			continue
		}
		if level, title, ok := strings.Cut(line, " "); ok && strings.Trim(level, "#") == "" && level != "" {
			d.headings = append(d.headings, level)
			d.titles = append(d.titles, title)
		}
	}
	if cur != nil {
		t.Fatalf("%s: unterminated code block", path)
	}
	return d
}

// Issue 21: README.zh-CN.md is kept in step with README.md: the same
// sections (headings map one to one, in order, at the same levels) and
// the same commands (every code block equal).
func TestChineseReadmeInStep(t *testing.T) {
	en, zh := parseMarkdown(t, "README.md"), parseMarkdown(t, "README.zh-CN.md")
	if !slices.Equal(en.headings, zh.headings) {
		t.Errorf("heading levels differ:\nREADME.md       %v %q\nREADME.zh-CN.md %v %q", en.headings, en.titles, zh.headings, zh.titles)
	}
	if len(en.blocks) != len(zh.blocks) {
		t.Fatalf("README.md has %d code blocks, README.zh-CN.md %d", len(en.blocks), len(zh.blocks))
	}
	for i := range en.blocks {
		if en.blocks[i] != zh.blocks[i] {
			t.Errorf("code block %d differs:\nREADME.md:\n%s\nREADME.zh-CN.md:\n%s", i, en.blocks[i].body, zh.blocks[i].body)
		}
	}
}

// shellCommand is one simple command of a shell code block.
type shellCommand struct {
	line string   // as written
	args []string // words, quotes removed
}

// shellCommands splits sh blocks into simple commands: continuation lines
// joined, comments dropped, split at ;, &&, || and |, a trailing & removed.
func shellCommands(blocks []mdBlock) []shellCommand {
	var out []shellCommand
	for _, b := range blocks {
		if b.lang != "sh" && b.lang != "bash" && b.lang != "shell" {
			continue
		}
		text := strings.ReplaceAll(b.body, "\\\n", " ")
		for _, line := range strings.Split(text, "\n") {
			var words []string
			flush := func() {
				if len(words) > 0 {
					out = append(out, shellCommand{line: strings.TrimSpace(line), args: words})
				}
				words = nil
			}
			for _, w := range shellWords(line) {
				switch w {
				case ";", "&&", "||", "|", "&":
					flush()
				default:
					words = append(words, w)
				}
			}
			flush()
		}
	}
	return out
}

// shellWords splits a line into words with POSIX-like quoting; operators
// (; & && | ||) are words of their own and # starts a comment. $(...) is
// kept inside its word.
func shellWords(line string) []string {
	var words []string
	var w strings.Builder
	in := false // a word is being built
	end := func() {
		if in {
			words = append(words, w.String())
			w.Reset()
			in = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				j = len(line) - i - 1
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			j := strings.IndexByte(line[i+1:], '"')
			if j < 0 {
				j = len(line) - i - 1
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '$' && i+1 < len(line) && line[i+1] == '(':
			depth, j := 0, i
			for ; j < len(line); j++ {
				if line[j] == '(' {
					depth++
				} else if line[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			w.WriteString(line[i:min(j+1, len(line))])
			i, in = j, true
		case c == ' ' || c == '\t':
			end()
		case c == '#' && !in:
			return words
		case c == ';' || c == '|' || c == '&':
			end()
			op := string(c)
			if i+1 < len(line) && line[i+1] == c {
				op += string(c)
				i++
			}
			words = append(words, op)
		default:
			w.WriteByte(c)
			in = true
		}
	}
	end()
	return words
}

// dsgateArgs returns the dsgate arguments of a command: dsgate ...,
// ./dsgate ... or go run ./cmd/dsgate ...; nil if it runs something else.
func dsgateArgs(args []string) []string {
	switch {
	case args[0] == "dsgate" || args[0] == "./dsgate":
		return args[1:]
	case len(args) >= 3 && args[0] == "go" && args[1] == "run" && args[2] == "./cmd/dsgate":
		return args[3:]
	}
	return nil
}

// checkParses validates a dsgate command line as cobra would run it: the
// subcommand exists, every flag is known and takes a valid value, and the
// positional arguments fit.
func checkParses(args []string) error {
	root := newRootCmd()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root || !cmd.Runnable() {
		return errUnknownCommand
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if cmd.Args != nil {
		return cmd.Args(cmd, cmd.Flags().Args())
	}
	return nil
}

var errUnknownCommand = errorString("not a runnable dsgate subcommand")

type errorString string

func (e errorString) Error() string { return string(e) }

// runnable lists the subcommands the docs test runs: they touch only the
// working directory (a temporary one) and need no network.
var runnable = map[string]bool{
	"init": true, "keys create": true, "keys list": true, "clients create": true, "clients list": true,
	"config check": true, "config print": true, "plan": true, "engine command": true, "version": true,
}

// docCommands are the dsgate commands of a doc's sh blocks.
func docCommands(t *testing.T, path string) []shellCommand {
	t.Helper()
	return shellCommands(parseMarkdown(t, path).blocks)
}

// Issue 21: every dsgate command in README.md, README.zh-CN.md and
// docs/operations.md parses (subcommand, flags, arguments), and the safe
// ones run, in order, in one temporary directory: so the README's
// init → keys create flow is executed as written.
func TestDocCommandsParseAndRun(t *testing.T) {
	for _, doc := range []string{"README.md", "README.zh-CN.md", "docs/operations.md"} {
		t.Run(filepath.Base(doc), func(t *testing.T) {
			t.Chdir(t.TempDir())
			n := 0
			for _, c := range docCommands(t, doc) {
				if c.args[0] == "export" {
					for _, kv := range c.args[1:] {
						if k, v, ok := strings.Cut(kv, "="); ok && !strings.Contains(v, "$(") {
							t.Setenv(k, v)
						}
					}
					continue
				}
				args := dsgateArgs(c.args)
				if args == nil {
					continue
				}
				n++
				for i, a := range args {
					args[i] = os.ExpandEnv(a)
				}
				if err := checkParses(args); err != nil {
					t.Errorf("%s: %q does not parse: %v", doc, c.line, err)
					continue
				}
				if !shouldRun(args) {
					// A command not run still needs the config it names:
					// one an earlier command wrote, or a repository file.
					if f := configArg(repoPaths(args)); f != "" {
						if _, err := os.Stat(f); err != nil {
							t.Errorf("%s: %q names %s, which no earlier command writes: %v", doc, c.line, f, err)
						}
					}
					t.Logf("parses: %s", c.line)
					continue
				}
				t.Logf("runs:   %s", c.line)
				var out, errb bytes.Buffer
				root := newRootCmd()
				root.SetArgs(repoPaths(args))
				root.SetIn(strings.NewReader(""))
				root.SetOut(&out)
				root.SetErr(&errb)
				if err := root.ExecuteContext(context.Background()); err != nil {
					t.Errorf("%s: %q failed: %v\n%s%s", doc, c.line, err, out.String(), errb.String())
				}
			}
			if n == 0 {
				t.Fatalf("%s: no dsgate commands found", doc)
			}
		})
	}
}

// configArg is the value of --config or -c, if any.
func configArg(args []string) string {
	for i, a := range args {
		if (a == "--config" || a == "-c") && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
	}
	return ""
}

// shouldRun reports whether the docs test runs a command: a runnable
// subcommand whose arguments name no absolute path (model files on a GPU
// host).
func shouldRun(args []string) bool {
	var sub []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		sub = append(sub, a)
	}
	name := strings.Join(sub[:min(len(sub), 2)], " ")
	if !runnable[name] && !(len(sub) > 0 && runnable[sub[0]]) {
		return false
	}
	for _, a := range args {
		if strings.HasPrefix(a, "/") {
			return false
		}
	}
	return true
}

// repoPaths points arguments that name repository files (examples/...)
// at the repository when the working directory has no such file.
func repoPaths(args []string) []string {
	out := slices.Clone(args)
	root, _ := filepath.Abs(filepath.Join(thisDir, repoRoot))
	for i, a := range out {
		if !repoPath.MatchString(a) {
			continue
		}
		if _, err := os.Stat(a); err == nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, a)); err == nil {
			out[i] = filepath.Join(root, a)
		}
	}
	return out
}

var repoPath = regexp.MustCompile(`^[\w.-]+/[\w./-]+$`)

// thisDir is the package directory, captured before tests change it.
var thisDir = func() string {
	wd, _ := os.Getwd()
	return wd
}()

// The command splitter handles what the docs use.
func TestShellWords(t *testing.T) {
	got := shellWords(`./dsgate keys create --name "my app" -d '{"a":1}' && curl x | jq .; echo $(openssl rand -hex 32) # note`)
	want := []string{"./dsgate", "keys", "create", "--name", "my app", "-d", `{"a":1}`, "&&", "curl", "x", "|", "jq", ".", ";",
		"echo", "$(openssl rand -hex 32)"}
	if !slices.Equal(got, want) {
		t.Errorf("shellWords:\n got %q\nwant %q", got, want)
	}
	if err := checkParses([]string{"keys", "create", "--nmae", "x"}); err == nil {
		t.Error("an unknown flag parsed")
	}
	if err := checkParses([]string{"kyes", "list"}); err == nil {
		t.Error("an unknown subcommand parsed")
	}
	if err := checkParses([]string{"config", "check"}); err == nil {
		t.Error("config check without its FILE parsed")
	}
}
