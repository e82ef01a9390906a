# Opens N connections to the reactor under test, sends one frame on each, checks each echo,
# says "connected", and keeps them open until a line arrives on stdin (ReactorTests).
import resource, socket, struct, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sockets = []
for index in range(count):
    connection = socket.create_connection((host, port), timeout=30)
    connection.sendall(struct.pack(">i", 3) + bytes([0, index % 256, index // 256]))
    sockets.append(connection)
for index, connection in enumerate(sockets):
    data = b""
    while len(data) < 7:
        chunk = connection.recv(7 - len(data))
        if not chunk:
            sys.exit("connection %d closed" % index)
        data += chunk
    if data != struct.pack(">i", 3) + bytes([index // 256, index % 256, 0]):
        sys.exit("connection %d: wrong echo %r" % (index, data))
sys.stdout.write("connected")
sys.stdout.flush()
sys.stdin.readline()
print("\nround trips: %d" % count)
sys.stdout.flush()
for connection in sockets:
    connection.close()
