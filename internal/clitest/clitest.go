// Package clitest runs the project's commands (rtmfpd, rtmfp) as built
// binaries in tests: it builds them with go build, starts them, follows
// their standard error line by line so that tests synchronise on what the
// programs print (never on sleeps), and reads their exit status.
package clitest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Patience bounds every wait for a line or an exit. It is generous: it
// only turns a hung program into a failed test, so a loaded machine does
// not break a test with it.
const Patience = 60 * time.Second

// Build compiles the command in directory pkg (a path relative to the
// test's package, such as "." or "../rtmfpd") into dir and returns the
// binary's path.
func Build(t testing.TB, dir, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(mustAbs(t, pkg)))
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = pkg
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

func mustAbs(t testing.TB, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Proc is a running command.
type Proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd

	mu    sync.Mutex
	lines []string      // standard error so far
	grew  chan struct{} // closed and replaced when lines grows or the stream ends
	eof   bool

	Stdout bytes.Buffer // standard output (when not redirected)

	done chan struct{}
	err  error // Wait's, once done is closed
}

// Start runs bin with args. The process is killed at the end of the test
// if it still runs.
func Start(t testing.TB, bin string, args ...string) *Proc {
	t.Helper()
	return StartCmd(t, exec.Command(bin, args...))
}

// StartCmd runs cmd (whose Stderr must be unset; Stdout goes to
// Proc.Stdout unless set).
func StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{t: t, name: filepath.Base(cmd.Path), cmd: cmd, grew: make(chan struct{}), done: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Stdout == nil {
		cmd.Stdout = &lockedWriter{mu: &p.mu, w: &p.Stdout}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	go p.read(stderr)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", p.name, p.Stderr())
		}
	})
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// read collects standard error; a line ends at \n or \r (progress lines
// that update in place end with \r).
func (p *Proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sc.Split(scanLines)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		close(p.grew)
		p.grew = make(chan struct{})
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.eof = true
	close(p.grew)
	p.grew = make(chan struct{})
	p.mu.Unlock()
}

func scanLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// Lines returns the standard error lines so far.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Stderr returns standard error so far as one string.
func (p *Proc) Stderr() string { return strings.Join(p.Lines(), "\n") }

// StdoutBytes returns what the program wrote to standard output so far.
func (p *Proc) StdoutBytes() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.Stdout.Bytes())
}

// WaitLine waits (up to Patience) for a standard error line matching the
// regular expression re and returns its submatches. The program ending
// first fails the test.
func (p *Proc) WaitLine(re string) []string {
	p.t.Helper()
	m, err := p.waitLine(regexp.MustCompile(re), 0)
	if err != nil {
		p.t.Fatalf("%s: %v (waiting for a line matching %q)\n%s stderr:\n%s", p.name, err, re, p.name, p.Stderr())
	}
	return m
}

// WaitLineAfter is WaitLine from line number from on; it also returns the
// number of the line after the match.
func (p *Proc) WaitLineAfter(re string, from int) ([]string, int) {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	m, err := p.waitLine(rx, from)
	if err != nil {
		p.t.Fatalf("%s: %v (waiting for a line matching %q)\n%s stderr:\n%s", p.name, err, re, p.name, p.Stderr())
	}
	lines := p.Lines()
	for i := from; i < len(lines); i++ {
		if rx.MatchString(lines[i]) {
			return m, i + 1
		}
	}
	return m, len(lines)
}

func (p *Proc) waitLine(re *regexp.Regexp, from int) ([]string, error) {
	deadline := time.NewTimer(Patience)
	defer deadline.Stop()
	for i := from; ; {
		p.mu.Lock()
		for ; i < len(p.lines); i++ {
			if m := re.FindStringSubmatch(p.lines[i]); m != nil {
				p.mu.Unlock()
				return m, nil
			}
		}
		eof, grew := p.eof, p.grew
		p.mu.Unlock()
		if eof {
			return nil, errors.New("standard error ended")
		}
		select {
		case <-grew:
		case <-deadline.C:
			return nil, fmt.Errorf("nothing after %v", Patience)
		}
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %s: %v", p.name, err)
	}
}

// Kill ends the process at once (SIGKILL): it vanishes without closing
// anything.
func (p *Proc) Kill() {
	p.t.Helper()
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Wait waits (up to Patience) for the process to exit and returns its
// exit code; standard error has been read to its end.
func (p *Proc) Wait() int {
	p.t.Helper()
	code, err := p.wait(Patience)
	if err != nil {
		p.t.Fatalf("%s: %v\nstderr:\n%s", p.name, err, p.Stderr())
	}
	return code
}

// WaitWithin is Wait with another bound.
func (p *Proc) WaitWithin(d time.Duration) (int, error) { return p.wait(d) }

func (p *Proc) wait(d time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	select {
	case <-p.done:
	case <-ctx.Done():
		return -1, fmt.Errorf("still running after %v", d)
	}
	for { // standard error to its end
		p.mu.Lock()
		eof, grew := p.eof, p.grew
		p.mu.Unlock()
		if eof {
			break
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return -1, errors.New("standard error not closed")
		}
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0, nil
	case errors.As(p.err, &ee):
		return ee.ExitCode(), nil
	}
	return -1, p.err
}

// Run runs bin with args to its end and returns the exit code, standard
// output and standard error.
func Run(t testing.TB, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := Start(t, bin, args...)
	code = p.Wait()
	return code, string(p.StdoutBytes()), p.Stderr()
}
