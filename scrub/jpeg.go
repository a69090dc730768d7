package scrub

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// JPEG markers.
const (
	mSOI  = 0xd8
	mEOI  = 0xd9
	mSOS  = 0xda
	mAPP0 = 0xe0
	mAPP1 = 0xe1
	mAPP2 = 0xe2
	mAPPD = 0xed
	mAPPE = 0xee
	mAPPF = 0xef
	mCOM  = 0xfe
)

var errNotJPEG = errors.New("not a JPEG file")

// JPEG copies a JPEG file without its metadata segments: APP1 (EXIF, XMP), APP13 (IPTC,
// Photoshop), COM, vendor APPn segments, APP2 segments other than the ICC profile
// (MPF previews), and whatever follows the end of the image. It keeps APP0 (JFIF),
// APP2 ICC_PROFILE, APP14 (Adobe colour transform), the tables, the frame and the
// entropy-coded data byte for byte. It returns what it removed.
func JPEG(w io.Writer, r io.ReaderAt, size int64) ([]string, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 32<<10)
	bw := bufio.NewWriterSize(w, 32<<10)
	var f findings
	if err := scrubJPEG(&f, bw, br); err != nil {
		return f.list, err
	}
	return f.list, bw.Flush()
}

func scrubJPEG(f *findings, w *bufio.Writer, r *bufio.Reader) error {
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil || soi != [2]byte{0xff, mSOI} {
		return errNotJPEG
	}
	w.Write(soi[:])
	haveFF := false // the 0xff of the next marker was read already
	for {
		m, err := readMarker(r, haveFF)
		haveFF = false
		if err != nil {
			return err
		}
		switch {
		case m == mEOI:
			w.Write([]byte{0xff, mEOI})
			if n, _ := io.Copy(io.Discard, r); n > 0 {
				f.add("data after the end of the image (%d bytes)", n)
			}
			return nil
		case m == 0x01 || m >= 0xd0 && m <= 0xd7: // standalone markers
			w.Write([]byte{0xff, m})
			continue
		}
		var lb [2]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return fmt.Errorf("truncated JPEG segment: %w", err)
		}
		n := int(lb[0])<<8 | int(lb[1])
		if n < 2 {
			return errors.New("malformed JPEG segment length")
		}
		if keepSegment(m) {
			w.Write([]byte{0xff, m, lb[0], lb[1]})
			if _, err := io.CopyN(w, r, int64(n-2)); err != nil {
				return fmt.Errorf("truncated JPEG segment: %w", err)
			}
			if m == mSOS {
				haveFF, err = copyScan(w, r)
				if errors.Is(err, errTruncatedScan) {
					return nil // a file cut inside its scan: copied as far as it goes
				}
				if err != nil {
					return err
				}
			}
			continue
		}
		data := make([]byte, n-2)
		if _, err := io.ReadFull(r, data); err != nil {
			return fmt.Errorf("truncated JPEG segment: %w", err)
		}
		if m == mAPP2 && bytes.HasPrefix(data, []byte("ICC_PROFILE\x00")) {
			w.Write([]byte{0xff, m, lb[0], lb[1]})
			w.Write(data)
			continue
		}
		reportSegment(f, m, data)
	}
}

// keepSegment: the segments that are kept without looking inside them: all but the
// APPn and COM segments, of which APP0 (JFIF) and APP14 (Adobe) are kept too. APP2 is
// decided by its identifier (ICC_PROFILE only).
func keepSegment(m byte) bool {
	switch {
	case m == mAPP0 || m == mAPPE:
		return true
	case m >= mAPP0 && m <= mAPPF, m == mCOM:
		return false
	}
	return true
}

func reportSegment(f *findings, m byte, data []byte) {
	switch {
	case m == mAPP1 && bytes.HasPrefix(data, []byte("Exif\x00")):
		body := data[6:]
		if err := findEXIF(f, bytes.NewReader(body), int64(len(body))); err != nil {
			f.add("EXIF metadata (unreadable)")
		} else {
			f.add("EXIF metadata")
		}
	case m == mAPP1 && bytes.HasPrefix(data, []byte("http://ns.adobe.com/xap/1.0/\x00")):
		findXMP(f, data)
	case m == mAPP1:
		f.add("XMP metadata")
	case m == mAPP2 && (bytes.HasPrefix(data, []byte("MPF\x00")) || bytes.HasPrefix(data, []byte("FPXR"))):
		f.add("embedded preview images")
	case m == mAPPD:
		findPhotoshop(f, data)
	case m == mCOM:
		f.add("comment %s", quote(string(data)))
	default:
		f.add("vendor metadata (APP%d)", m-mAPP0)
	}
}

// readMarker reads the next marker, skipping fill bytes.
func readMarker(r *bufio.Reader, haveFF bool) (byte, error) {
	if !haveFF {
		b, err := r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("JPEG ends without its end marker: %w", err)
		}
		if b != 0xff {
			return 0, errors.New("malformed JPEG: expected a marker")
		}
	}
	for {
		b, err := r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("JPEG ends without its end marker: %w", err)
		}
		if b != 0xff {
			return b, nil
		}
	}
}

// copyScan copies entropy-coded data up to the next marker that is neither a stuffed
// byte nor a restart marker, and reports that the marker's 0xff was read.
func copyScan(w *bufio.Writer, r *bufio.Reader) (bool, error) {
	for {
		chunk, err := r.ReadSlice(0xff)
		if errors.Is(err, bufio.ErrBufferFull) {
			w.Write(chunk)
			continue
		}
		if err != nil {
			// A file cut inside its scan: what there is was copied, as a viewer shows it.
			w.Write(chunk)
			if errors.Is(err, io.EOF) {
				return false, errTruncatedScan
			}
			return false, err
		}
		next, err := r.Peek(1)
		if err != nil {
			w.Write(chunk)
			return false, errTruncatedScan
		}
		if n := next[0]; n == 0x00 || n >= 0xd0 && n <= 0xd7 {
			w.Write(chunk)
			w.WriteByte(n)
			r.Discard(1)
			continue
		}
		w.Write(chunk[:len(chunk)-1])
		return true, nil
	}
}

var errTruncatedScan = errors.New("JPEG ends inside its image data")
