package modelcrypt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EncryptFile encrypts the file src into dst under keyID. The output appears
// under dst only when complete.
func (c *Codec) EncryptFile(ctx context.Context, dst, src, keyID string) error {
	return c.convertFile(dst, src, func(w io.Writer, r io.Reader) error {
		return c.Encrypt(ctx, w, r, keyID)
	})
}

// DecryptFile decrypts the file src into dst. The plaintext goes to a
// temporary file beside dst, which is renamed to dst only after the final
// chunk authenticated and is removed on any error, so dst never holds
// unauthenticated or partial plaintext.
func (c *Codec) DecryptFile(ctx context.Context, dst, src string) error {
	return c.convertFile(dst, src, func(w io.Writer, r io.Reader) error {
		_, err := c.Decrypt(ctx, w, r)
		return err
	})
}

// VerifyFile authenticates every chunk of src without writing plaintext and
// returns its header.
func (c *Codec) VerifyFile(ctx context.Context, src string) (*Header, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := c.Decrypt(ctx, io.Discard, f)
	if err != nil {
		return h, fmt.Errorf("%s: %w", src, err)
	}
	return h, nil
}

// convertFile runs fn from src into a temporary file in dst's directory and
// renames it to dst on success; on failure the temporary file is removed.
func (c *Codec) convertFile(dst, src string, fn func(io.Writer, io.Reader) error) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", src)
	}
	if err := c.checkDst(dst, st); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary output: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := fn(tmp, in); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// checkDst refuses to replace src itself, and any existing file unless
// Overwrite is set.
func (c *Codec) checkDst(dst string, src fs.FileInfo) error {
	st, err := os.Stat(dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case os.SameFile(st, src):
		return fmt.Errorf("%s: output is the input file", dst)
	case st.IsDir():
		return fmt.Errorf("%s: is a directory", dst)
	case !c.opts.Overwrite:
		return fmt.Errorf("%s: %w", dst, fs.ErrExist)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// EncryptTree encrypts every file under srcDir into the same relative path
// under dstDir with Suffix appended, creating directories as needed.
func (c *Codec) EncryptTree(ctx context.Context, dstDir, srcDir, keyID string) error {
	if err := checkTreeDirs(dstDir, srcDir); err != nil {
		return err
	}
	return walkFiles(srcDir, func(rel string) error {
		return c.treeFile(ctx, filepath.Join(dstDir, rel+Suffix), filepath.Join(srcDir, rel), func(dst, src string) error {
			return c.EncryptFile(ctx, dst, src, keyID)
		})
	})
}

// DecryptTree decrypts every file under srcDir, each of which must end in
// Suffix, into the same relative path under dstDir without the suffix. Files
// are published one at a time, each only once authenticated; on error the
// files already published stay (they are authentic) and the failing one is
// not written.
func (c *Codec) DecryptTree(ctx context.Context, dstDir, srcDir string) error {
	if err := checkTreeDirs(dstDir, srcDir); err != nil {
		return err
	}
	return walkFiles(srcDir, func(rel string) error {
		plain, ok := strings.CutSuffix(rel, Suffix)
		if !ok || filepath.Base(plain) == "" {
			return fmt.Errorf("%s: not an encrypted file (no %s suffix)", rel, Suffix)
		}
		return c.treeFile(ctx, filepath.Join(dstDir, plain), filepath.Join(srcDir, rel), func(dst, src string) error {
			return c.DecryptFile(ctx, dst, src)
		})
	})
}

// VerifyTree authenticates every file under srcDir without writing plaintext.
func (c *Codec) VerifyTree(ctx context.Context, srcDir string) error {
	return walkFiles(srcDir, func(rel string) error {
		if !strings.HasSuffix(rel, Suffix) {
			return fmt.Errorf("%s: not an encrypted file (no %s suffix)", rel, Suffix)
		}
		_, err := c.VerifyFile(ctx, filepath.Join(srcDir, rel))
		return err
	})
}

func (c *Codec) treeFile(ctx context.Context, dst, src string, fn func(dst, src string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return fn(dst, src)
}

// TreeSize returns how many files and bytes a tree operation on srcDir
// reads, for progress totals.
func TreeSize(srcDir string) (files int, size int64, err error) {
	err = walkFiles(srcDir, func(rel string) error {
		st, err := os.Stat(filepath.Join(srcDir, rel))
		if err != nil {
			return err
		}
		files++
		size += st.Size()
		return nil
	})
	return files, size, err
}

// checkTreeDirs refuses an output directory inside (or equal to) the input,
// which would make the walk read its own output.
func checkTreeDirs(dstDir, srcDir string) error {
	src, err := filepath.Abs(srcDir)
	if err != nil {
		return err
	}
	dst, err := filepath.Abs(dstDir)
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(src); err == nil {
		src = real
	}
	if real, err := filepath.EvalSymlinks(dst); err == nil {
		dst = real
	}
	if rel, err := filepath.Rel(src, dst); err == nil && (rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)))) {
		return fmt.Errorf("output directory %s is inside the input directory %s", dstDir, srcDir)
	}
	return nil
}

// walkFiles calls fn with the path relative to root of every regular file
// under root, in lexical order. root itself may be a symbolic link. Symbolic links to regular files are followed
// (a Hugging Face snapshot is made of them); links to directories and other
// file types are errors, so nothing is silently left out.
func walkFiles(root string, fn func(rel string) error) error {
	root, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		mode := d.Type()
		if mode&fs.ModeSymlink != 0 {
			st, err := os.Stat(path)
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			mode = st.Mode().Type()
		}
		if !mode.IsRegular() {
			return fmt.Errorf("%s: not a regular file (%s); directory symlinks and special files are not followed", rel, mode)
		}
		return fn(rel)
	})
}
