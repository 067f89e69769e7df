import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.util.List;

/**
 * An in-memory MongoDB wire-protocol server (mongo-java-server) for `make bench`: nothing is
 * written to disk and nothing survives a restart, so it is never a store for appeals. It shows
 * what the same pipeline does when the store costs next to nothing.
 *
 * <p>mongo-java-server implements MongoDB 4.0's commands and says so (wire version 7); PyMongo 4
 * refuses servers older than 4.4 (wire version 9) before sending a command. It answers as 5.0
 * (wire version 13): OP_MSG, the isMaster handshake and the commands Veche sends (inserts,
 * bulk writes, find, findAndModify, createIndexes, count) are the same there.
 */
public final class VecheMemStore {
  private static final MongoVersion AS_MONGO_5 =
      new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
          return List.of(5, 0, 0);
        }

        @Override
        public int getWireVersion() {
          return 13;
        }
      };

  private VecheMemStore() {}

  public static void main(String[] args) throws InterruptedException {
    String host = args.length > 1 ? args[1] : "127.0.0.1";
    int port = Integer.parseInt(args.length > 0 ? args[0] : "27117");
    MongoServer server = new MongoServer(new MemoryBackend().version(AS_MONGO_5));
    server.bind(host, port);
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
    System.out.println("veche-memstore: MongoDB wire protocol on " + host + ":" + port + " (in memory)");
    Thread.currentThread().join();
  }
}
