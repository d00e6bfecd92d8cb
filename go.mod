module tcplab

go 1.26
