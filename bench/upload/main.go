// Command upload measures evidence uploads (docs/benchmarks.md, P5, P6) against a private
// MinIO:
//
//	P5  upload MB/s through the portal, 64 MiB files, 4 at once, over minio-go
//	    PutObject with the size known, straight to the same MinIO (target >= 0.85);
//	    the file is the request's body (-body raw, the default since ADR 0040) or a
//	    multipart/form-data field (-body multipart)
//	P6  the portal process's peak memory above idle (VmHWM - idle VmRSS) during P5 and
//	    during 4 uploads of 256 MiB at once (target <= 64 MiB)
//
// The portal runs as its own process (the real binary, SQLite, S3 storage, logging as in
// production: JSON at Info, to a file) so that its memory can be read from /proc. P5 runs
// 11 pairs in alternating order (bench/internal/pairs) and reports, beside the ratio,
// the CPU time per megabyte of the portal, of MinIO and of this process (the load
// generator; on the baseline side, minio-go). Run it with `make bench-upload`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/bench/internal/pairs"
	"github.com/unionportal/unionportal/internal/testrig"
)

var (
	nPairs   = flag.Int("pairs", pairs.DefaultPairs, "A/B pairs, in alternating order")
	fileMiB  = flag.Int("file-mib", 64, "P5 file size in MiB")
	bigMiB   = flag.Int("big-mib", 256, "P6 file size in MiB")
	parallel = flag.Int("parallel", 4, "uploads at once")
	bodyForm = flag.String("body", "raw", "how the portal gets the file: raw (the body is the file, ADR 0040) or multipart")
)

func check(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

// atExit holds what must be stopped however the benchmark ends (the portal, MinIO):
// fatalf runs it, since log.Fatal skips deferred calls.
var atExit []func()

func fatalf(format string, args ...any) {
	for i := len(atExit) - 1; i >= 0; i-- {
		atExit[i]()
	}
	log.Fatalf(format, args...)
}

func main() {
	flag.Parse()
	if *bodyForm != "raw" && *bodyForm != "multipart" {
		log.Fatalf("-body must be raw or multipart, not %q", *bodyForm)
	}
	log.SetFlags(0)
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "unionportal-bench-upload-")
	check(err)
	defer os.RemoveAll(dir)

	bin, err := testrig.EnsureTool(ctx, "minio", testrig.MinIOModule, testrig.MinIOVersion, func(m string) { log.Print(m) })
	check(err)
	mio, err := testrig.StartMinIO(ctx, bin, filepath.Join(dir, "minio"))
	check(err)
	defer mio.Stop()
	atExit = append(atExit, func() { mio.Stop() })
	log.Printf("MinIO on %s", mio.Endpoint)

	portalBin := filepath.Join(dir, "unionportal")
	build := exec.Command("go", "build", "-o", portalBin, "./cmd/unionportal")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	check(build.Run())
	port, err := testrig.FreePort()
	check(err)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	env := append(os.Environ(), "UNIONPORTAL_DATA_DIR="+filepath.Join(dir, "data"), "UNIONPORTAL_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"UNIONPORTAL_STORAGE=s3", "UNIONPORTAL_S3_ENDPOINT="+mio.Endpoint, "UNIONPORTAL_S3_BUCKET=evidence",
		"UNIONPORTAL_S3_ACCESS_KEY="+mio.AccessKey, "UNIONPORTAL_S3_SECRET_KEY="+mio.SecretKey, "UNIONPORTAL_S3_USE_TLS=false",
		"UNIONPORTAL_MAX_FILE_BYTES=1GiB", "UNIONPORTAL_MAX_SUBMISSION_BYTES=1000GiB", "UNIONPORTAL_LOG_FORMAT=json")
	// The portal logs as in production (Info, a line per request), to a file.
	logFile, err := os.Create(filepath.Join(dir, "portal.log"))
	check(err)
	defer logFile.Close()
	admin := exec.Command(portalBin, "admin", "create-superadmin", "--email", "root@bench.test")
	admin.Env, admin.Stdin = env, strings.NewReader("bench password 123\n")
	check(admin.Run())
	portal := exec.Command(portalBin, "serve")
	portal.Env, portal.Stdout, portal.Stderr = env, logFile, logFile
	check(portal.Start())
	defer func() { _ = portal.Process.Kill() }()
	atExit = append(atExit, func() { _ = portal.Process.Kill() })
	waitReady(base)
	token, submission := setup(base)
	// Start the portal afresh: the set-up logins hashed passwords with argon2id (46 MiB
	// each), which would inflate the idle figure. Uploads use the API token.
	_ = portal.Process.Signal(os.Interrupt)
	_ = portal.Wait()
	portal = exec.Command(portalBin, "serve")
	portal.Env, portal.Stdout, portal.Stderr = env, logFile, logFile
	check(portal.Start())
	waitReady(base)

	client, err := minio.New(mio.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(mio.AccessKey, mio.SecretKey, "")})
	check(err)
	if err := client.MakeBucket(ctx, "baseline", minio.MakeBucketOptions{}); err != nil {
		fatalf("%v", err)
	}
	size := int64(*fileMiB) << 20
	portalUpload := func(n int64) func(i int) {
		return func(i int) { upload(base, token, submission, n) }
	}
	baselineUpload := func(i int) {
		_, err := client.PutObject(ctx, "baseline", fmt.Sprintf("obj-%d-%d", time.Now().UnixNano(), i), fileReader(size), size,
			minio.PutObjectOptions{ContentType: "application/pdf"})
		check(err)
	}
	// Warm up, then read the idle footprint.
	portalUpload(1 << 20)(0)
	time.Sleep(time.Second)
	idle := procKiB(portal.Process.Pid, "VmRSS")

	meters := []pairs.Meter{pairs.Process("portal", portal.Process.Pid), pairs.Process("MinIO", mio.PID()), pairs.Self("bench process")}
	megabytes := float64(size) * float64(*parallel) / 1e6
	p5Portal, p5Baseline, err := pairs.Interleave(*nPairs, meters,
		pairs.Side{Name: "portal", Run: func() (float64, float64) { return mbps(size, portalUpload(size)), megabytes }},
		pairs.Side{Name: "minio-go", Run: func() (float64, float64) { return mbps(size, baselineUpload), megabytes }},
		func(i int, a, b pairs.Result) {
			log.Printf("P5 pair %d: portal %.0f MB/s, minio-go PutObject %.0f MB/s, ratio %.3f", i, a.Value, b.Value, a.Value/b.Value)
		})
	check(err)
	p5 := pairs.Ratios(p5Portal, p5Baseline)
	peakP5 := procKiB(portal.Process.Pid, "VmHWM")
	big := int64(*bigMiB) << 20
	bigRate := mbps(big, portalUpload(big))
	peakP6 := procKiB(portal.Process.Pid, "VmHWM")
	log.Printf("P6: idle RSS %d MiB; peak %d MiB after P5, %d MiB after %d x %d MiB (%.0f MB/s)",
		idle>>10, peakP5>>10, peakP6>>10, *parallel, *bigMiB, bigRate)
	// Stopped as an operator stops it, so that it finishes its log (and a CPU profile,
	// with UNIONPORTAL_CPU_PROFILE set).
	_ = portal.Process.Signal(os.Interrupt)
	_ = portal.Wait()

	fmt.Printf("machine: %s/%s, %d CPUs; %d x %d MiB at once; %d pairs in alternating order\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), *parallel, *fileMiB, *nPairs)
	fmt.Printf("P5 MB/s: portal %s, minio-go %s\n", pairs.Summary("%.0f", pairs.Values(p5Portal)), pairs.Summary("%.0f", pairs.Values(p5Baseline)))
	fmt.Println(pairs.CPUReport(meters, "MB", map[string][]pairs.Result{"P5 portal": p5Portal, "P5 minio-go": p5Baseline}, "P5 portal", "P5 minio-go"))
	fmt.Printf("P5 portal/minio-go %s | P6 peak above idle %d MiB (P5), %d MiB (%d x %d MiB)\n",
		pairs.Summary("%.3f", p5), (peakP5-idle)>>10, (peakP6-idle)>>10, *parallel, *bigMiB)
}

func waitReady(base string) {
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/readyz"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			return
		}
		if i > 100 {
			fatalf("the portal did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// setup makes a tenant, an editor with an API token, a case and a draft.
func setup(base string) (token, submission string) {
	jar := &cookieClient{base: base}
	var login struct {
		CSRF string `json:"csrf_token"`
	}
	jar.do("POST", "/api/v1/auth/login", map[string]string{"email": "root@bench.test", "password": "bench password 123"}, &login)
	jar.csrf = login.CSRF
	// A superadmin must have a second factor: the bench adds an authenticator app of
	// its own, and the session counts as stepped up.
	var factor struct{ ID, Secret string }
	jar.do("POST", "/api/v1/me/factors", map[string]string{"type": "totp"}, &factor)
	jar.do("POST", "/api/v1/me/factors/"+factor.ID+"/activate", map[string]string{"code": auth.TOTPCode(factor.Secret, time.Now())}, nil)
	jar.do("POST", "/api/v1/tenants", map[string]string{"slug": "bench", "name": "Bench"}, nil)
	var org struct{ ID string }
	jar.do("POST", "/api/v1/tenants/bench/organizations", map[string]string{"name": "Union", "country": "KG", "kind": "affiliate"}, &org)
	jar.do("POST", "/api/v1/tenants/bench/users", map[string]any{"email": "editor@bench.test", "name": "E",
		"password": "bench password 123", "organization_id": org.ID, "roles": []string{"editor"}}, nil)
	ed := &cookieClient{base: base}
	ed.do("POST", "/api/v1/auth/login", map[string]string{"email": "editor@bench.test", "password": "bench password 123"}, &login)
	ed.csrf = login.CSRF
	var tok struct{ Token string }
	ed.do("POST", "/api/v1/me/tokens", map[string]string{"name": "bench"}, &tok)
	var c, sub struct{ ID string }
	ed.do("POST", "/api/v1/tenants/bench/cases", map[string]any{"number": "1", "country": "KG", "title": "Bench"}, &c)
	ed.do("POST", "/api/v1/tenants/bench/submissions", map[string]any{"case_id": c.ID, "kind": "complaint",
		"title": "Bench", "body": "b", "language": "en"}, &sub)
	return tok.Token, sub.ID
}

type cookieClient struct {
	base    string
	cookies []*http.Cookie
	csrf    string
}

func (c *cookieClient) do(method, path string, body, out any) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultClient.Do(req)
	check(err)
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		fatalf("%s %s: %d %s", method, path, resp.StatusCode, msg)
	}
	if len(resp.Cookies()) > 0 {
		c.cookies = resp.Cookies()
	}
	if out != nil {
		check(json.NewDecoder(resp.Body).Decode(out))
	}
}

// pattern fills the content stream of every file: drawing operators, 1 MiB of them.
var pattern = bytes.Repeat([]byte("0 0 m 1 1 l S\n"), (1<<20)/14)

// fileReader yields a well-formed PDF of exactly size bytes (one page whose content
// stream fills it, a correct cross-reference table), without allocating it: what the
// portal reads back for identifying metadata is then what real evidence costs, not the
// recovery of a malformed file.
func fileReader(size int64) io.Reader {
	var head bytes.Buffer
	offsets := make([]int, 5)
	head.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	for n, obj := range []string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>"} {
		offsets[n+1] = head.Len()
		fmt.Fprintf(&head, "%d 0 obj\n%s\nendobj\n", n+1, obj)
	}
	offsets[4] = head.Len()
	const mid = "\nendstream\nendobj\n"
	tail := func(streamLen int64) string {
		var t bytes.Buffer
		xref := int64(head.Len()) + int64(len(fmt.Sprintf("4 0 obj\n<< /Length %d >>\nstream\n", streamLen))) + streamLen + int64(len(mid))
		t.WriteString("xref\n0 5\n0000000000 65535 f \n")
		for _, o := range offsets[1:] {
			fmt.Fprintf(&t, "%010d 00000 n \n", o)
		}
		fmt.Fprintf(&t, "trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", xref)
		return t.String()
	}
	// The stream's length, written in the file, changes the sizes around it: settle it.
	n := size - int64(head.Len()) - int64(len(mid)) - 200
	for range 3 {
		n = size - int64(head.Len()) - int64(len(fmt.Sprintf("4 0 obj\n<< /Length %d >>\nstream\n", n))) - int64(len(mid)) - int64(len(tail(n)))
	}
	readers := []io.Reader{bytes.NewReader(head.Bytes()), strings.NewReader(fmt.Sprintf("4 0 obj\n<< /Length %d >>\nstream\n", n))}
	for left := n; left > 0; left -= int64(len(pattern)) {
		readers = append(readers, bytes.NewReader(pattern[:min(left, int64(len(pattern)))]))
	}
	readers = append(readers, strings.NewReader(mid), strings.NewReader(tail(n)))
	return io.MultiReader(readers...)
}

// upload streams one file through the portal, as the body itself (-body raw) or as
// multipart/form-data.
func upload(base, token, submission string, size int64) {
	if *bodyForm == "raw" {
		req, _ := http.NewRequest("POST", base+"/api/v1/tenants/bench/submissions/"+submission+"/attachments", fileReader(size))
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/pdf")
		req.Header.Set("Content-Disposition", "attachment; filename=evidence.pdf")
		req.Header.Set("Authorization", "Bearer "+token)
		send(req)
		return
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, _ := mw.CreateFormFile("file", "evidence.pdf")
		_, err := io.Copy(fw, fileReader(size))
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest("POST", base+"/api/v1/tenants/bench/submissions/"+submission+"/attachments", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	send(req)
}

func send(req *http.Request) {
	resp, err := http.DefaultClient.Do(req)
	check(err)
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		msg, _ := io.ReadAll(resp.Body)
		fatalf("upload: %d %s", resp.StatusCode, msg)
	}
}

// mbps runs do parallel times at once and returns the total MB/s.
func mbps(size int64, do func(i int)) float64 {
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < *parallel; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); do(i) }()
	}
	wg.Wait()
	return float64(size) * float64(*parallel) / 1e6 / time.Since(start).Seconds()
}

// procKiB reads a memory figure of a process from /proc, in KiB.
func procKiB(pid int, field string) int64 {
	n, err := pairs.ProcStatusKiB(pid, field)
	check(err)
	return n
}
