package scrub

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// pngDropped are the chunks that carry metadata: text (tEXt, zTXt, iTXt, where XMP
// lives too), EXIF (eXIf) and the last-modification time (tIME).
var pngDropped = map[string]bool{"tEXt": true, "zTXt": true, "iTXt": true, "eXIf": true, "tIME": true}

// PNG copies a PNG file without its text, EXIF and time chunks; the image header, the
// pixels (IDAT), the palette and the colour chunks (gAMA, cHRM, sRGB, iCCP, …) are
// copied byte for byte, CRCs included. It returns what it removed.
func PNG(w io.Writer, r io.ReaderAt, size int64) ([]string, error) {
	bw := bufio.NewWriterSize(w, 32<<10)
	var f findings
	if err := scrubPNG(&f, bw, io.NewSectionReader(r, 0, size)); err != nil {
		return f.list, err
	}
	return f.list, bw.Flush()
}

func scrubPNG(f *findings, bw io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 32<<10)
	sig := make([]byte, len(pngSignature))
	if _, err := io.ReadFull(br, sig); err != nil || !bytes.Equal(sig, pngSignature) {
		return errors.New("not a PNG file")
	}
	bw.Write(sig)
	for {
		var h [8]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return fmt.Errorf("PNG ends without its IEND chunk: %w", err)
		}
		n := int64(binary.BigEndian.Uint32(h[:4]))
		typ := string(h[4:8])
		if n > 1<<31-1 {
			return errors.New("malformed PNG chunk length")
		}
		if !pngDropped[typ] {
			bw.Write(h[:])
			if _, err := io.CopyN(bw, br, n+4); err != nil {
				return fmt.Errorf("truncated PNG chunk %q: %w", typ, err)
			}
			if typ == "IEND" {
				if rest, _ := io.Copy(io.Discard, br); rest > 0 {
					f.add("data after the end of the image (%d bytes)", rest)
				}
				return nil
			}
			continue
		}
		if n > maxValue*16 {
			f.add("large %s chunk", typ)
			if _, err := br.Discard(int(n + 4)); err != nil {
				return err
			}
			continue
		}
		data := make([]byte, n+4)
		if _, err := io.ReadFull(br, data); err != nil {
			return fmt.Errorf("truncated PNG chunk %q: %w", typ, err)
		}
		reportPNGChunk(f, typ, data[:n])
	}
}

func reportPNGChunk(f *findings, typ string, data []byte) {
	switch typ {
	case "tIME":
		f.add("modification time")
	case "eXIf":
		if err := findEXIF(f, bytes.NewReader(data), int64(len(data))); err != nil {
			f.add("EXIF metadata (unreadable)")
		} else {
			f.add("EXIF metadata")
		}
	case "tEXt":
		key, val, _ := bytes.Cut(data, []byte{0})
		pngText(f, string(key), val)
	case "zTXt":
		key, rest, _ := bytes.Cut(data, []byte{0})
		if len(rest) > 1 {
			pngText(f, string(key), inflate(rest[1:]))
		}
	case "iTXt":
		key, rest, _ := bytes.Cut(data, []byte{0})
		if len(rest) < 2 {
			return
		}
		compressed := rest[0] == 1
		rest = rest[2:]
		_, rest, _ = bytes.Cut(rest, []byte{0}) // language
		_, rest, _ = bytes.Cut(rest, []byte{0}) // translated keyword
		if compressed {
			rest = inflate(rest)
		}
		pngText(f, string(key), rest)
	}
}

func pngText(f *findings, key string, val []byte) {
	if key == "XML:com.adobe.xmp" {
		findXMP(f, val)
		return
	}
	f.add("text %s: %s", quote(key), quote(string(val)))
}

// inflate decompresses a zlib stream, up to 64 KiB of it: enough to report.
func inflate(b []byte) []byte {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	out, _ := io.ReadAll(io.LimitReader(zr, maxValue))
	return out
}
