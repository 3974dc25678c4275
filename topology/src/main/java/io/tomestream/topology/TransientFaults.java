package io.tomestream.topology;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpTimeoutException;
import java.util.concurrent.TimeoutException;

/**
 * Tells an outage from a bad record when the value serde fails. A registry that can't be reached
 * (refused, timed out, no route, no such host yet) or that answers 5xx or 429 is an outage: the record
 * is fine, and dead-lettering it would lose it for good. Anything else the serde throws (bytes that
 * are not Avro, an id the registry answers for as not found) is about the record.
 */
final class TransientFaults {
    private TransientFaults() {
    }

    static boolean isTransient(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ConnectException || t instanceof SocketTimeoutException || t instanceof HttpTimeoutException
                    || t instanceof NoRouteToHostException || t instanceof UnknownHostException || t instanceof TimeoutException
                    || t instanceof org.apache.kafka.common.errors.TimeoutException) {
                return true;
            }
            Integer status = httpStatus(t);
            if (status != null && (status >= 500 || status == 429)) return true;
        }
        return false;
    }

    /**
     * The HTTP status a registry client's exception carries, if it has one: Apicurio's ProblemDetails
     * (and Kiota's ApiException) expose it as getStatus() or getResponseStatusCode().
     */
    private static Integer httpStatus(Throwable t) {
        for (String getter : new String[] {"getStatus", "getResponseStatusCode"}) {
            try {
                Object v = t.getClass().getMethod(getter).invoke(t);
                if (v instanceof Number n) return n.intValue();
            } catch (ReflectiveOperationException | RuntimeException ignored) {
                // not that kind of exception
            }
        }
        return null;
    }
}
