module github.com/rtmfpd/rtmfpd

go 1.26
