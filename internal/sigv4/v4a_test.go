package sigv4

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// v4aVectorFiles are what a complete aws-c-auth v4a case carries beyond
// context.json and request.txt.
var v4aVectorFiles = []string{
	"public-key.json",
	"header-canonical-request.txt", "header-string-to-sign.txt", "header-signature.txt", "header-signed-request.txt",
	"query-canonical-request.txt", "query-string-to-sign.txt", "query-signature.txt", "query-signed-request.txt",
}

// TestAWSCAuthV4A runs aws-c-auth's v4a vectors. ECDSA signatures are
// randomised, so signatures are verified rather than compared: ours against
// the derived public key, and the vector's own against its string to sign.
func TestAWSCAuthV4A(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(vectorDir, "v4a", "*"))
	if len(dirs) != 40 {
		t.Fatalf("found %d v4a cases, want 40", len(dirs))
	}
	ran := 0
	for _, dir := range dirs {
		var missing []string
		for _, f := range v4aVectorFiles {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			// Upstream ships get-vanilla-query-order-{key,value} with only a
			// context and a request: there is nothing to compare against.
			t.Logf("skipping %s: the vector has no %s", filepath.Base(dir), strings.Join(missing, ", "))
			continue
		}
		ran++
		t.Run(filepath.Base(dir), func(t *testing.T) { runV4AVector(t, dir) })
	}
	if ran != 38 {
		t.Errorf("ran %d complete v4a cases, want 38", ran)
	}
}

func runV4AVector(t *testing.T, dir string) {
	c := loadContext(t, dir)
	creds := c.creds()
	checkPublicKey(t, creds, filepath.Join(dir, "public-key.json"))
	for _, mode := range []string{"header", "query"} {
		t.Run(mode, func(t *testing.T) {
			r, body := parseVectorRequest(t, []byte(readFile(t, filepath.Join(dir, "request.txt"))))
			regionSet := strings.Split(c.Region, ",")
			s := NewSigner(nil)
			var got Signed
			var err error
			if mode == "header" {
				p := c.params(body)
				p.Algorithm, p.RegionSet = SigV4A, regionSet
				got, err = s.SignDebug(r, creds, p, c.time(t))
			} else {
				p := c.params(body)
				p.ContentSHA256Header = false
				p.Algorithm, p.RegionSet = SigV4A, regionSet
				got, err = s.PresignDebug(r, creds, p, c.time(t), time.Duration(c.Expiration)*time.Second)
			}
			if err != nil {
				t.Fatal(err)
			}
			file := func(name string) string { return readFile(t, filepath.Join(dir, mode+"-"+name)) }
			diffExact(t, "canonical request", got.CanonicalRequest, file("canonical-request.txt"))
			wantSTS := file("string-to-sign.txt")
			diffExact(t, "string to sign", got.StringToSign, wantSTS)
			if !verifyECDSA(creds, []byte(got.StringToSign), got.Signature) {
				t.Errorf("our signature %s does not verify", got.Signature)
			}
			if sig := strings.TrimSpace(file("signature.txt")); !verifyECDSA(creds, []byte(wantSTS), sig) {
				t.Errorf("the vector's %s-signature.txt does not verify with the derived key", mode)
			}
			want, _ := parseVectorRequest(t, []byte(file("signed-request.txt")))
			if mode == "header" {
				checkV4AAuthorization(t, creds, r, want, wantSTS)
			} else {
				checkV4AQuery(t, creds, r, want, wantSTS)
			}
		})
	}
}

func checkPublicKey(t *testing.T, creds Credentials, path string) {
	t.Helper()
	var want struct{ X, Y string }
	if err := json.Unmarshal([]byte(readFile(t, path)), &want); err != nil {
		t.Fatal(err)
	}
	x, y, err := PublicKeyV4A(creds)
	if err != nil {
		t.Fatal(err)
	}
	diffExact(t, "public key X", hex.EncodeToString(x), want.X)
	diffExact(t, "public key Y", hex.EncodeToString(y), want.Y)
}

// checkV4AAuthorization compares everything in the Authorization and the
// region set header but the signature, and verifies the signed request's own.
func checkV4AAuthorization(t *testing.T, creds Credentials, got, want *http.Request, sts string) {
	t.Helper()
	diffExact(t, "X-Amz-Region-Set", got.Header.Get("X-Amz-Region-Set"), want.Header.Get("X-Amz-Region-Set"))
	gotPrefix, gotSig, ok1 := strings.Cut(got.Header.Get("Authorization"), "Signature=")
	wantPrefix, wantSig, ok2 := strings.Cut(want.Header.Get("Authorization"), "Signature=")
	if !ok1 || !ok2 {
		t.Fatalf("Authorization without a signature: %q / %q", got.Header.Get("Authorization"), want.Header.Get("Authorization"))
	}
	diffExact(t, "Authorization (signature aside)", gotPrefix, wantPrefix)
	if !verifyECDSA(creds, []byte(sts), gotSig) {
		t.Error("signature in our Authorization does not verify")
	}
	if !verifyECDSA(creds, []byte(sts), wantSig) {
		t.Error("signature in the vector's signed request does not verify")
	}
	diffExact(t, "X-Amz-Security-Token", got.Header.Get("X-Amz-Security-Token"), want.Header.Get("X-Amz-Security-Token"))
}

// checkV4AQuery compares the presigned query parameters with the vector's,
// order and signature aside, and verifies both signatures.
func checkV4AQuery(t *testing.T, creds Credentials, got, want *http.Request, sts string) {
	t.Helper()
	gotQ, err1 := url.ParseQuery(got.URL.RawQuery)
	wantQ, err2 := url.ParseQuery(want.URL.RawQuery)
	if err1 != nil || err2 != nil {
		t.Fatalf("parsing queries: %v %v", err1, err2)
	}
	for k := range wantQ {
		if k != "X-Amz-Signature" && gotQ.Get(k) != wantQ.Get(k) {
			t.Errorf("query %s = %q, want %q", k, gotQ.Get(k), wantQ.Get(k))
		}
	}
	if len(gotQ) != len(wantQ) {
		t.Errorf("query has %d parameters, want %d: %s", len(gotQ), len(wantQ), got.URL.RawQuery)
	}
	if !verifyECDSA(creds, []byte(sts), gotQ.Get("X-Amz-Signature")) {
		t.Error("X-Amz-Signature in our query does not verify")
	}
	if !verifyECDSA(creds, []byte(sts), wantQ.Get("X-Amz-Signature")) {
		t.Error("X-Amz-Signature in the vector's signed request does not verify")
	}
}

func TestV4ARegionSet(t *testing.T) {
	set := []string{"us-east-*", "us-west-2"}
	r, _ := http.NewRequest(http.MethodGet, "https://example.amazonaws.com/", nil)
	got, err := NewSigner(nil).SignDebug(r, exampleCreds, &Params{Service: "s3", Algorithm: SigV4A, RegionSet: set}, vectorTime)
	if err != nil {
		t.Fatal(err)
	}
	diffExact(t, "X-Amz-Region-Set", r.Header.Get("X-Amz-Region-Set"), "us-east-*,us-west-2")
	if !strings.Contains(got.CanonicalRequest, "\nx-amz-region-set:us-east-*,us-west-2\n") {
		t.Errorf("region set not signed:\n%s", got.CanonicalRequest)
	}
	if !strings.Contains(got.StringToSign, "\n20150830/s3/aws4_request\n") {
		t.Errorf("scope is not DATE/SERVICE/aws4_request:\n%s", got.StringToSign)
	}

	r, _ = http.NewRequest(http.MethodGet, "https://example.amazonaws.com/?X-Amz-Region-Set=smuggled", nil)
	r.Header.Set("X-Amz-Region-Set", "smuggled")
	got, err = NewSigner(nil).PresignDebug(r, exampleCreds, &Params{Service: "s3", Algorithm: SigV4A, RegionSet: []string{"*"}}, vectorTime, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if q := r.URL.Query(); len(q["X-Amz-Region-Set"]) != 1 || q.Get("X-Amz-Region-Set") != "*" || r.Header.Get("X-Amz-Region-Set") != "" {
		t.Errorf("presigned region set: query %q, header %q", r.URL.RawQuery, r.Header.Get("X-Amz-Region-Set"))
	}
	if !strings.Contains(got.CanonicalRequest, "&X-Amz-Region-Set=%2A&") {
		t.Errorf("canonical query does not carry the encoded region set:\n%s", got.CanonicalRequest)
	}

	for _, bad := range [][]string{nil, {}, {""}, {"us-east-1,us-west-2"}, {"us east"}} {
		r, _ := http.NewRequest(http.MethodGet, "https://example.amazonaws.com/", nil)
		if err := NewSigner(nil).Sign(r, exampleCreds, &Params{Service: "s3", Algorithm: SigV4A, RegionSet: bad}, vectorTime); err == nil {
			t.Errorf("region set %q accepted", bad)
		}
		if len(r.Header) != 0 {
			t.Errorf("region set %q: request changed on error: %v", bad, r.Header)
		}
	}
}

func TestVerifyECDSARejects(t *testing.T) {
	sts := []byte("AWS4-ECDSA-P256-SHA256\n20150830T123600Z\n20150830/service/aws4_request\n00")
	k, err := v4aKeys.key(exampleCreds)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signECDSA(k, sts)
	if err != nil {
		t.Fatal(err)
	}
	if !verifyECDSA(exampleCreds, sts, sig) {
		t.Fatal("good signature rejected")
	}
	other := exampleCreds
	other.SecretAccessKey += "x"
	der, _ := hex.DecodeString(sig)
	der[len(der)-1] ^= 1 // a well-formed DER signature with a wrong S
	flipped := hex.EncodeToString(der)
	for name, ok := range map[string]bool{
		"tampered string to sign": verifyECDSA(exampleCreds, append(sts[:len(sts):len(sts)], '0'), sig),
		"other secret":            verifyECDSA(other, sts, sig),
		"flipped bit":             verifyECDSA(exampleCreds, sts, flipped),
		"not hex":                 verifyECDSA(exampleCreds, sts, "zz"+sig[2:]),
		"empty":                   verifyECDSA(exampleCreds, sts, ""),
		"truncated":               verifyECDSA(exampleCreds, sts, sig[:len(sig)-2]),
		"no credentials":          verifyECDSA(Credentials{}, sts, sig),
	} {
		if ok {
			t.Errorf("%s: verified", name)
		}
	}
}

// TestV4AScalarHelpers checks the constant-time comparison and increment
// against math/big on random and edge values.
func TestV4AScalarHelpers(t *testing.T) {
	limit := new(big.Int).SetBytes(p256NMinus2[:])
	cases := [][32]byte{{}, p256NMinus2}
	edge := p256NMinus2
	edge[31]--
	cases = append(cases, edge)
	edge[31] += 2
	cases = append(cases, edge)
	for range 1000 {
		var k [32]byte
		rand.Read(k[:])
		cases = append(cases, k)
	}
	for _, k := range cases {
		n := new(big.Int).SetBytes(k[:])
		if got, want := lessThanCT(&k, &p256NMinus2), n.Cmp(limit) < 0; got != want {
			t.Fatalf("lessThanCT(%x) = %v, want %v", k, got, want)
		}
		if !lessThanCT(&k, &p256NMinus2) {
			continue
		}
		k1 := k
		addOne(&k1)
		if new(big.Int).SetBytes(k1[:]).Cmp(n.Add(n, big.NewInt(1))) != 0 {
			t.Fatalf("addOne(%x) = %x", k, k1)
		}
	}
}

// TestV4AConcurrent signs and verifies with a cold cache from many goroutines,
// for the race detector.
func TestV4AConcurrent(t *testing.T) {
	s := NewSigner(nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c := Credentials{AccessKeyID: "AKIDCONCURRENT", SecretAccessKey: "secret" + string(rune('a'+i%2))}
			r, _ := http.NewRequest(http.MethodGet, "https://example.amazonaws.com/a?b=c", nil)
			got, err := s.SignDebug(r, c, &Params{Service: "s3", Algorithm: SigV4A, RegionSet: []string{"*"}}, vectorTime)
			if err != nil || !verifyECDSA(c, []byte(got.StringToSign), got.Signature) {
				t.Errorf("goroutine %d: err %v, or the signature did not verify", i, err)
			}
		})
	}
	wg.Wait()
}
