package blob

import (
	"errors"
	"fmt"
	"io"
)

// ExactReader returns a reader of the size bytes of r that fails, wrapping
// ErrSizeMismatch, when r ends before size bytes or holds more. The excess
// is detected by the Read call that returns the last expected bytes: that
// call returns the error instead, so a writer copying from it never sees a
// complete object made from a longer stream.
func ExactReader(r io.Reader, size int64) io.Reader {
	if size < 0 {
		return &exactReader{err: fmt.Errorf("%w: negative size %d", ErrSizeMismatch, size)}
	}
	return &exactReader{r: r, left: size, size: size}
}

type exactReader struct {
	r          io.Reader
	left, size int64
	err        error
}

// emptyReads bounds the (0, nil) reads tolerated while probing for the end.
const emptyReads = 100

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		if err := e.atEOF(); err != nil {
			e.err = err
			return 0, err
		}
		e.err = io.EOF
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case err == io.EOF && e.left > 0:
		e.err = fmt.Errorf("%w: got %d bytes, want %d", ErrSizeMismatch, e.size-e.left, e.size)
		return 0, e.err
	case err == io.EOF:
		e.err = io.EOF
	case err != nil:
		e.err = err
		return 0, err
	case e.left == 0:
		// The last expected bytes: make sure nothing follows before handing
		// them out.
		if perr := e.atEOF(); perr != nil {
			e.err = perr
			return 0, perr
		}
		e.err = io.EOF
	}
	return n, nil
}

// atEOF reads one byte past the announced size: only io.EOF is fine.
func (e *exactReader) atEOF() error {
	var b [1]byte
	for i := 0; i < emptyReads; i++ {
		n, err := e.r.Read(b[:])
		if n > 0 {
			return fmt.Errorf("%w: more than %d bytes", ErrSizeMismatch, e.size)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("blob: reader returned no data and no error %d times", emptyReads)
}
