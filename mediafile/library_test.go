package mediafile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/media"
)

const testFLV = "../testdata/media/test_6s.flv"

func copyTo(t *testing.T, dst string, n int) {
	t.Helper()
	b, err := os.ReadFile(testFLV)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if err := os.WriteFile(dst, b[:min(n, len(b))], 0o644); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, s media.Source) int {
	t.Helper()
	n := 0
	for {
		_, err := s.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}

// TestLibrary: readers of one file share its index and descriptor; a
// file that changes is indexed again; a missing file, a folder or a
// symbolic link out of the root is not found.
func TestLibrary(t *testing.T) {
	dir := t.TempDir()
	lib, err := Open(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	copyTo(t, filepath.Join(dir, "a.flv"), 1<<30)
	s1, err := lib.Open("a.flv", FLV)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := lib.Open("a.flv", FLV)
	if err != nil {
		t.Fatal(err)
	}
	if s1.(*flv.Source) == s2.(*flv.Source) || len(lib.files) != 1 || lib.files["a.flv"].refs != 2 {
		t.Fatalf("entries %v", lib.files)
	}
	whole := count(t, s1)
	s1.Close()
	s2.Close()
	if e := lib.files["a.flv"]; e == nil || e.refs != 0 || e.f == nil {
		t.Fatal("the unused file was not kept")
	}
	// Rewritten shorter: a new index.
	copyTo(t, filepath.Join(dir, "a.flv"), 40000)
	s3, err := lib.Open("a.flv", FLV)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s3); n >= whole || n == 0 {
		t.Fatalf("%d messages in the shorter file, %d in the whole", n, whole)
	}
	s3.Close()
	// Another file: the bound of one idle file closes the first.
	copyTo(t, filepath.Join(dir, "b.flv"), 1<<30)
	s4, err := lib.Open("b.flv", FLV)
	if err != nil {
		t.Fatal(err)
	}
	s4.Close()
	if len(lib.files) != 1 {
		t.Fatalf("%d files kept for nobody, bound 1", len(lib.files))
	}
	os.Mkdir(filepath.Join(dir, "d.flv"), 0o755)
	outside := filepath.Join(t.TempDir(), "secret.flv")
	copyTo(t, outside, 1<<30)
	os.Symlink(outside, filepath.Join(dir, "link.flv"))
	for _, rel := range []string{"none.flv", "d.flv", "link.flv", "../secret.flv"} {
		if _, err := lib.Open(rel, FLV); err == nil {
			t.Errorf("%s opened", rel)
		} else if rel != "link.flv" && rel != "../secret.flv" && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v", rel, err)
		}
	}
}
