package io.tomestream.topology;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.utils.Bytes;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/**
 * An input record waiting in the batch buffer, exactly as read (key, value and headers: a registry
 * serde may need the headers to decode the value again), plus where it came from and when it
 * arrived. It is stored (and changelogged) as bytes, so a task that moves to another instance
 * resumes with the same records.
 *
 * @param arrivalMs wall-clock time it was buffered, for {@code batch.max.wait.ms}
 * @param timestamp the Kafka record timestamp, which the outputs keep
 * @param key       the original key bytes, or null
 * @param value     the original value bytes
 */
record BufferedRecord(String topic, int partition, long offset, long timestamp, long arrivalMs, byte[] key,
                      byte[] value, Headers headers) {
    private static final byte FORMAT = 1;

    /**
     * The store key: partition then offset, both big-endian, so keys are unique within a task and
     * the store iterates them in arrival order (RocksDB compares keys as unsigned bytes).
     */
    Bytes storeKey() {
        return Bytes.wrap(ByteBuffer.allocate(12).putInt(partition).putLong(offset).array());
    }

    byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + value.length + (key == null ? 0 : key.length));
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(FORMAT);
            out.writeUTF(topic);
            out.writeInt(partition);
            out.writeLong(offset);
            out.writeLong(timestamp);
            out.writeLong(arrivalMs);
            writeBytes(out, key);
            writeBytes(out, value);
            Header[] all = headers.toArray();
            out.writeInt(all.length);
            for (Header h : all) {
                out.writeUTF(h.key());
                writeBytes(out, h.value());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    static BufferedRecord decode(byte[] stored) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(stored))) {
            byte format = in.readByte();
            if (format != FORMAT) throw new IllegalStateException("unknown buffer record format " + format);
            String topic = in.readUTF();
            int partition = in.readInt();
            long offset = in.readLong(), timestamp = in.readLong(), arrivalMs = in.readLong();
            byte[] key = readBytes(in), value = readBytes(in);
            RecordHeaders headers = new RecordHeaders();
            for (int n = in.readInt(); n > 0; n--) headers.add(in.readUTF(), readBytes(in));
            return new BufferedRecord(topic, partition, offset, timestamp, arrivalMs, key, value, headers);
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt buffer record", e);
        }
    }

    private static void writeBytes(DataOutputStream out, byte[] b) throws IOException {
        out.writeInt(b == null ? -1 : b.length);
        if (b != null) out.write(b);
    }

    private static byte[] readBytes(DataInputStream in) throws IOException {
        int n = in.readInt();
        return n < 0 ? null : in.readNBytes(n);
    }
}
