package fsblob

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
)

// magic starts every object file's header line.
const magic = "IMBLOB1 "

// maxHeader is the longest header line: magic, content type, newline.
const maxHeader = len(magic) + blob.MaxContentTypeLen + 1

func header(contentType string) string { return magic + contentType + "\n" }

// object is an open object: its bytes, seekable, over the file.
type object struct {
	*io.SectionReader
	f *os.File
}

func (o *object) Close() error { return o.f.Close() }

// openObject opens the file at p and parses its header.
func openObject(p, key string) (*object, blob.Info, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blob.Info{}, fmt.Errorf("fsblob: %q: %w", key, blob.ErrNotFound)
	}
	if err != nil {
		return nil, blob.Info{}, fmt.Errorf("fsblob: open %q: %w", key, err)
	}
	obj, info, err := parse(f, key)
	if err != nil {
		_ = f.Close()
		return nil, blob.Info{}, fmt.Errorf("fsblob: open %q: %w", key, err)
	}
	return obj, info, nil
}

func parse(f *os.File, key string) (*object, blob.Info, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, blob.Info{}, err
	}
	if !st.Mode().IsRegular() {
		return nil, blob.Info{}, fmt.Errorf("not a regular file")
	}
	buf := make([]byte, maxHeader)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return nil, blob.Info{}, err
	}
	buf = buf[:n]
	end := bytes.IndexByte(buf, '\n')
	if end < 0 || !bytes.HasPrefix(buf, []byte(magic)) {
		return nil, blob.Info{}, errors.New("corrupt object header")
	}
	off := int64(end + 1)
	info := blob.Info{
		Key:         key,
		Size:        st.Size() - off,
		ContentType: string(buf[len(magic):end]),
		ModTime:     st.ModTime(),
	}
	return &object{SectionReader: io.NewSectionReader(f, off, info.Size), f: f}, info, nil
}
