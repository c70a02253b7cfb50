package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// loadMNIST reads the 10,000-image MNIST test set shipped in testdata.
func loadMNIST(t testing.TB) (images [][]byte, labels []byte) {
	t.Helper()
	read := func(name string) []byte {
		f, err := os.Open("../../testdata/mnist/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	img := read("t10k-images-idx3-ubyte.gz")
	lab := read("t10k-labels-idx1-ubyte.gz")
	if binary.BigEndian.Uint32(img) != 2051 || binary.BigEndian.Uint32(lab) != 2049 {
		t.Fatal("not MNIST IDX files")
	}
	n := int(binary.BigEndian.Uint32(img[4:]))
	rows, cols := int(binary.BigEndian.Uint32(img[8:])), int(binary.BigEndian.Uint32(img[12:]))
	if rows != 28 || cols != 28 || n != int(binary.BigEndian.Uint32(lab[4:])) || len(img) != 16+n*784 || len(lab) != 8+n {
		t.Fatal("unexpected MNIST layout")
	}
	for i := range n {
		images = append(images, img[16+i*784:16+(i+1)*784])
	}
	return images, lab[8:]
}

func encodeImage(pix []byte, format string) ([]byte, error) {
	g := &image.Gray{Pix: pix, Stride: 28, Rect: image.Rect(0, 0, 28, 28)}
	var buf bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&buf, g)
	} else {
		err = jpeg.Encode(&buf, g, &jpeg.Options{Quality: 90})
	}
	return buf.Bytes(), err
}

// classify posts each image through the HTTP path with a few workers and
// returns the fraction labelled correctly.
func classify(t *testing.T, images [][]byte, labels []byte, format string) float64 {
	var correct, done atomic.Int64
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				img, err := encodeImage(images[i], format)
				if err != nil {
					t.Errorf("image %d: %v", i, err)
					continue
				}
				status, resp, _, err := tryPost(srv.URL, "/v2/models/mnist/infer", imageRequest(img))
				if err != nil || status != http.StatusOK {
					t.Errorf("image %d: status %d: %v %s", i, status, err, resp.Error)
					continue
				}
				got, err := labelOf(resp)
				if err != nil {
					t.Errorf("image %d: %v", i, err)
					continue
				}
				if got == int64(labels[i]) {
					correct.Add(1)
				}
				done.Add(1)
			}
		})
	}
	for i := range images {
		next <- i
	}
	close(next)
	wg.Wait()
	if done.Load() != int64(len(images)) {
		t.Fatalf("%d of %d requests failed", int64(len(images))-done.Load(), len(images))
	}
	return float64(correct.Load()) / float64(len(images))
}

// The whole MNIST test set through HTTP, Wasm pre-processing, the engine and
// Wasm post-processing. onnxruntime scores 98.91 % on the same raw pixels.
func TestMNISTAccuracy(t *testing.T) {
	images, labels := loadMNIST(t)
	if testing.Short() {
		images, labels = images[:1000], labels[:1000]
	}
	pngAcc := classify(t, images, labels, "png")
	jpgAcc := classify(t, images[:1000], labels[:1000], "jpeg")
	msg := fmt.Sprintf("MNIST over HTTP: PNG %.2f %% of %d, JPEG q90 %.2f %% of 1000", 100*pngAcc, len(images), 100*jpgAcc)
	t.Log(msg)
	if !testing.Short() && pngAcc < 0.989 {
		t.Errorf("PNG accuracy %.4f is below 0.989", pngAcc)
	}
	if jpgAcc < 0.985 {
		t.Errorf("JPEG accuracy %.4f is below 0.985", jpgAcc)
	}
}
