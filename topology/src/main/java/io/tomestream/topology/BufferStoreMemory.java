package io.tomestream.topology;

import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteBufferManager;

import java.util.Map;

/**
 * Bounds the off-heap memory of the batch buffer's RocksDB stores, one per input partition, to
 * {@value #TOTAL_MB} MB for the whole process. Left at Kafka Streams' defaults, each store may
 * take three 16 MB memtables and a 50 MB block cache of its own: hundreds of MB that RSS gains
 * slowly over hours on an instance with many partitions, outside the heap that -Xmx bounds. A
 * buffer holds at most a batch per partition and is read back once, from its memtable, so a
 * small shared budget costs nothing. The app sets it unless {@code rocksdb.config.setter} is set.
 */
public final class BufferStoreMemory implements RocksDBConfigSetter {
    static final long TOTAL_MB = 64;
    /** Memtables, counted inside the cache's budget: room for a few batches of camera frames. */
    private static final long MEMTABLES_MB = 32;
    private static final long MEMTABLE_MB = 8;

    /**
     * Shared by every store of the process, and so never closed by one of them. A holder, because
     * Kafka Streams loads this class while it checks its settings, before RocksDB's native library.
     */
    private static final class Shared {
        static {
            RocksDB.loadLibrary();
        }

        static final Cache CACHE = new LRUCache(TOTAL_MB << 20, -1, false, 0.1);
        static final WriteBufferManager WRITE_BUFFERS = new WriteBufferManager(MEMTABLES_MB << 20, CACHE);
    }

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
        table.setBlockCache(Shared.CACHE);
        table.setCacheIndexAndFilterBlocks(true);
        table.setCacheIndexAndFilterBlocksWithHighPriority(true);
        table.setPinTopLevelIndexAndFilter(true);
        options.setTableFormatConfig(table);
        options.setWriteBufferManager(Shared.WRITE_BUFFERS);
        options.setWriteBufferSize(MEMTABLE_MB << 20);
        options.setMaxWriteBufferNumber(2);
    }

    @Override
    public void close(String storeName, Options options) {
    }
}
