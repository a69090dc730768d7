package scrub

import (
	"encoding/binary"
	"errors"
	"io"
)

// VP8X flags of the chunks a WebP file carries.
const (
	vp8xEXIF = 0x08
	vp8xXMP  = 0x04
)

type riffChunk struct {
	fourCC string
	off    int64 // of the chunk's data
	size   int64 // of the data, without the padding byte
}

// WebP copies a WebP file without its EXIF and XMP chunks, clearing their flags in the
// VP8X header and fixing the RIFF size; the image chunks (VP8, VP8L, ALPH, ANIM/ANMF)
// and the ICC profile are copied byte for byte. It reads the file twice: the chunk
// headers first, for the new size, then the chunks.
func WebP(w io.Writer, r io.ReaderAt, size int64) ([]string, error) {
	var h [12]byte
	if _, err := r.ReadAt(h[:], 0); err != nil || string(h[:4]) != "RIFF" || string(h[8:]) != "WEBP" {
		return nil, errors.New("not a WebP file")
	}
	end := min(size, 8+int64(binary.LittleEndian.Uint32(h[4:])))
	var chunks []riffChunk
	for off := int64(12); off+8 <= end; {
		var ch [8]byte
		if _, err := r.ReadAt(ch[:], off); err != nil {
			return nil, err
		}
		c := riffChunk{fourCC: string(ch[:4]), off: off + 8, size: int64(binary.LittleEndian.Uint32(ch[4:]))}
		if c.off+c.size > end {
			return nil, errors.New("truncated WebP chunk " + c.fourCC)
		}
		chunks = append(chunks, c)
		off = c.off + c.size + c.size%2
	}
	var f findings
	riffSize := int64(4)
	for _, c := range chunks {
		switch c.fourCC {
		case "EXIF":
			if body, n := exifBody(r, c); findEXIF(&f, body, n) != nil {
				f.add("EXIF metadata (unreadable)")
			} else {
				f.add("EXIF metadata")
			}
			continue
		case "XMP ":
			packet := make([]byte, min(c.size, maxValue))
			r.ReadAt(packet, c.off)
			findXMP(&f, packet)
			continue
		}
		riffSize += 8 + c.size + c.size%2
	}
	if size > end {
		f.add("data after the end of the image (%d bytes)", size-end)
	}
	if riffSize > 1<<32-2 {
		return f.list, errors.New("WebP file too large")
	}
	binary.LittleEndian.PutUint32(h[4:], uint32(riffSize))
	if _, err := w.Write(h[:]); err != nil {
		return f.list, err
	}
	for _, c := range chunks {
		if c.fourCC == "EXIF" || c.fourCC == "XMP " {
			continue
		}
		var ch [8]byte
		copy(ch[:], c.fourCC)
		binary.LittleEndian.PutUint32(ch[4:], uint32(c.size))
		if _, err := w.Write(ch[:]); err != nil {
			return f.list, err
		}
		data := io.NewSectionReader(r, c.off, c.size+c.size%2)
		if c.fourCC == "VP8X" && c.size >= 1 {
			var flags [1]byte
			if _, err := r.ReadAt(flags[:], c.off); err != nil {
				return f.list, err
			}
			flags[0] &^= vp8xEXIF | vp8xXMP
			if _, err := w.Write(flags[:]); err != nil {
				return f.list, err
			}
			data = io.NewSectionReader(r, c.off+1, c.size-1+c.size%2)
		}
		if _, err := io.Copy(w, data); err != nil {
			return f.list, err
		}
	}
	return f.list, nil
}

// exifBody is an EXIF chunk's TIFF structure, without the "Exif\0\0" prefix some
// writers put first.
func exifBody(r io.ReaderAt, c riffChunk) (io.ReaderAt, int64) {
	var p [6]byte
	if _, err := r.ReadAt(p[:], c.off); err == nil && string(p[:]) == "Exif\x00\x00" {
		return io.NewSectionReader(r, c.off+6, c.size-6), c.size - 6
	}
	return io.NewSectionReader(r, c.off, c.size), c.size
}
