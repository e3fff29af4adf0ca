module github.com/rtmfpd/rtmfpd

go 1.26.0

require (
	github.com/Eyevinn/mp4ff v0.47.0
	golang.org/x/net v0.62.0
)

require golang.org/x/sys v0.49.0 // indirect
