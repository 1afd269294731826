package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/modelcrypt"
)

const modelKeyHelp = `Keys are given with --key ID:KIND:VALUE (repeatable; decryption picks the
key named in each file's header, so old and new keys can be listed together
during a rotation):

  ID:file:PATH             key file: 32 raw bytes, 64 hex digits or base64
  ID:env:NAME              key in an environment variable
  ID:cmd:PROGRAM ARGS...   key printed by a program (HSM/KMS CLI), run without
                           a shell; DSGATE_KEY_ID holds the requested id
  ID:sh:SCRIPT             the same through /bin/sh -c (explicit opt-in)
  ID:passphrase-KIND:...   any of the above yielding a passphrase, stretched
                           with argon2id (salt stored in each file)

Generate a key with: openssl rand -hex 32 > model.key
See docs/model-encryption.md for the file format and a Kubernetes example.`

func newModelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Encrypt, decrypt and verify model files at rest (AES-256-GCM)",
		Long: `Encrypt model files (a single file or a whole model directory of
safetensors shards) so they can be stored and shipped unreadable, and decrypt
them only where the engine runs.

` + modelKeyHelp,
	}
	cmd.AddCommand(newModelEncryptCmd(), newModelDecryptCmd(), newModelVerifyCmd())
	return cmd
}

// modelFlags are the flags shared by the model subcommands.
type modelFlags struct {
	keys       []string
	keyID      string
	cmdTimeout time.Duration
	chunkSize  string
	workers    int
	force      bool
	progress   string
}

func (f *modelFlags) register(cmd *cobra.Command, encrypt, writes bool) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.keys, "key", nil, "key as ID:KIND:VALUE (repeatable; see dsgate model --help)")
	fl.DurationVar(&f.cmdTimeout, "key-command-timeout", modelcrypt.DefaultCommandTimeout, "timeout for cmd and sh key sources")
	fl.IntVar(&f.workers, "workers", 0, "chunks processed in parallel (0: number of CPUs, at most 4)")
	fl.StringVar(&f.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always, never")
	if encrypt {
		fl.StringVar(&f.keyID, "key-id", "", "key to encrypt with (default: the only --key)")
		fl.StringVar(&f.chunkSize, "chunk-size", "1MiB", "plaintext bytes per chunk (64B..16MiB; KiB/MiB suffixes)")
	}
	if writes {
		fl.BoolVarP(&f.force, "force", "f", false, "replace existing output files")
	}
}

// codec builds the keyring and codec; the caller closes the keyring.
func (f *modelFlags) codec(cmd *cobra.Command, total int64) (*modelcrypt.Codec, *modelcrypt.Keyring, *progressBar, error) {
	if len(f.keys) == 0 {
		return nil, nil, nil, errors.New("no key given: pass --key ID:file:PATH (see dsgate model --help)")
	}
	var cfgs []modelcrypt.KeyConfig
	for _, spec := range f.keys {
		k, err := modelcrypt.ParseKeySpec(spec, f.cmdTimeout)
		if err != nil {
			return nil, nil, nil, err
		}
		cfgs = append(cfgs, k)
	}
	kr, err := modelcrypt.NewKeyring(cfgs...)
	if err != nil {
		return nil, nil, nil, err
	}
	chunk := 0
	if f.chunkSize != "" {
		if chunk, err = parseSize(f.chunkSize); err != nil {
			kr.Close()
			return nil, nil, nil, fmt.Errorf("--chunk-size: %w", err)
		}
	}
	bar, err := newProgressBar(cmd.ErrOrStderr(), f.progress, total)
	if err != nil {
		kr.Close()
		return nil, nil, nil, err
	}
	c, err := modelcrypt.New(kr, modelcrypt.Options{
		ChunkSize: chunk,
		Workers:   f.workers,
		Overwrite: f.force,
		Progress:  bar.add,
	})
	if err != nil {
		kr.Close()
		return nil, nil, nil, err
	}
	return c, kr, bar, nil
}

// encryptionKeyID picks the key for new files: --key-id, or the only key.
func (f *modelFlags) encryptionKeyID() (string, error) {
	if f.keyID != "" {
		return f.keyID, nil
	}
	if len(f.keys) == 1 {
		id, _, _ := strings.Cut(f.keys[0], ":")
		return id, nil
	}
	return "", errors.New("several --key given: choose one with --key-id")
}

func newModelEncryptCmd() *cobra.Command {
	var f modelFlags
	cmd := &cobra.Command{
		Use:   "encrypt SRC [DST]",
		Short: "Encrypt a model file or directory",
		Long: `Encrypt SRC. A file goes to DST (default SRC.dsenc; a directory DST gets
the file inside it). A directory is mirrored into DST with .dsenc appended
to every file name. Outputs appear only when complete.

` + modelKeyHelp,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			keyID, err := f.encryptionKeyID()
			if err != nil {
				return err
			}
			return runModelOp(cmd, &f, "encrypted", args, func(c *modelcrypt.Codec, src, dst string, dir bool) error {
				if dir {
					return c.EncryptTree(cmd.Context(), dst, src, keyID)
				}
				return c.EncryptFile(cmd.Context(), dst, src, keyID)
			}, func(src string) (string, error) { return src + modelcrypt.Suffix, nil },
				func(base string) string { return base + modelcrypt.Suffix })
		},
	}
	f.register(cmd, true, true)
	return cmd
}

func newModelDecryptCmd() *cobra.Command {
	var f modelFlags
	cmd := &cobra.Command{
		Use:   "decrypt SRC [DST]",
		Short: "Decrypt a model file or directory; plaintext appears only once authenticated",
		Long: `Decrypt SRC. A file goes to DST (default: SRC without .dsenc; a directory
DST gets the file inside it). A directory is mirrored into DST with the
.dsenc suffix removed. Each output is written to a temporary file beside it
and renamed into place only after its last chunk authenticated; on any error
the temporary file is removed and the command fails.

` + modelKeyHelp,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runModelOp(cmd, &f, "decrypted", args, func(c *modelcrypt.Codec, src, dst string, dir bool) error {
				if dir {
					return c.DecryptTree(cmd.Context(), dst, src)
				}
				return c.DecryptFile(cmd.Context(), dst, src)
			}, func(src string) (string, error) {
				dst, ok := strings.CutSuffix(src, modelcrypt.Suffix)
				if !ok {
					return "", fmt.Errorf("%s has no %s suffix: name the output file", src, modelcrypt.Suffix)
				}
				return dst, nil
			}, func(base string) string { return strings.TrimSuffix(base, modelcrypt.Suffix) })
		},
	}
	f.register(cmd, false, true)
	return cmd
}

func newModelVerifyCmd() *cobra.Command {
	var f modelFlags
	cmd := &cobra.Command{
		Use:   "verify SRC",
		Short: "Authenticate an encrypted file or directory without writing plaintext",
		Long:  "Verify every chunk of SRC (a file or a directory of .dsenc files).\n\n" + modelKeyHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runModelOp(cmd, &f, "verified", args, func(c *modelcrypt.Codec, src, _ string, dir bool) error {
				if dir {
					return c.VerifyTree(cmd.Context(), src)
				}
				_, err := c.VerifyFile(cmd.Context(), src)
				return err
			}, nil, nil)
		},
	}
	f.register(cmd, false, false)
	return cmd
}

// runModelOp resolves SRC and DST, builds the codec and runs op, then prints
// a summary line on stdout. defaultDst names the output of a file with no
// DST; inDir names it inside a DST directory. Both are nil for verify.
func runModelOp(cmd *cobra.Command, f *modelFlags, verb string, args []string,
	op func(c *modelcrypt.Codec, src, dst string, dir bool) error,
	defaultDst func(src string) (string, error), inDir func(base string) string,
) error {
	src := args[0]
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	dir := st.IsDir()
	files, total := 1, st.Size()
	if dir {
		if files, total, err = modelcrypt.TreeSize(src); err != nil {
			return err
		}
	}
	dst := ""
	switch {
	case defaultDst == nil:
	case len(args) == 2 && !dir:
		dst = args[1]
		if dstInfo, err := os.Stat(dst); err == nil && dstInfo.IsDir() {
			dst = filepath.Join(dst, inDir(filepath.Base(src)))
		}
	case len(args) == 2:
		dst = args[1]
	case dir:
		return errors.New("a directory needs a destination directory: SRC DST")
	default:
		if dst, err = defaultDst(src); err != nil {
			return err
		}
	}

	c, kr, bar, err := f.codec(cmd, total)
	if err != nil {
		return err
	}
	defer kr.Close()
	start := time.Now()
	err = op(c, src, dst, dir)
	bar.finish()
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w (use --force to replace)", err)
	}
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	rate := float64(total) / (1 << 20) / max(elapsed.Seconds(), 1e-9)
	target := ""
	if dst != "" {
		target = " -> " + dst
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %d file(s), %s, in %s (%.0f MiB/s): %s%s\n",
		verb, files, formatBytes(total), elapsed.Round(time.Millisecond), rate, src, target)
	return nil
}

// parseSize parses "65536", "64KiB", "1MiB" (also K/KB/M/MB as binary units).
func parseSize(s string) (int, error) {
	s = strings.TrimSpace(s)
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// progressBar draws a one-line bar on a terminal. A nil *progressBar is a
// no-op, which is what non-terminals get. add is called from one goroutine
// at a time (the codec's writer).
type progressBar struct {
	w           io.Writer
	total, done int64
	start, last time.Time
}

func newProgressBar(w io.Writer, mode string, total int64) (*progressBar, error) {
	switch mode {
	case "never":
		return nil, nil
	case "always":
	case "auto":
		if !isTerminal(w) {
			return nil, nil
		}
	default:
		return nil, fmt.Errorf("--progress %q: want auto, always or never", mode)
	}
	now := time.Now()
	return &progressBar{w: w, total: max(total, 1), start: now}, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progressBar) add(n int64) {
	if p == nil {
		return
	}
	p.done += n
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.draw(now)
	}
}

func (p *progressBar) draw(now time.Time) {
	const width = 30
	frac := min(float64(p.done)/float64(p.total), 1)
	filled := int(frac * width)
	rate := float64(p.done) / (1 << 20) / max(now.Sub(p.start).Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r[%s%s] %5.1f%%  %s / %s  %.0f MiB/s ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		frac*100, formatBytes(p.done), formatBytes(p.total), rate)
}

func (p *progressBar) finish() {
	if p == nil {
		return
	}
	p.draw(time.Now())
	fmt.Fprintln(p.w)
}
