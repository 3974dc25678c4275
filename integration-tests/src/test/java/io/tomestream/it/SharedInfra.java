package io.tomestream.it;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension that gives tests ONE {@link KafkaCluster} and ONE {@link ApicurioRegistry} for
 * the whole test run (all test classes of the failsafe fork), started on first use and closed when
 * the run ends (they live in the root context's store, which closes {@link AutoCloseable} values).
 *
 * <pre>{@code
 * @ExtendWith(SharedInfra.class)
 * class MyIT {
 *     MyIT(KafkaCluster kafka, ApicurioRegistry registry) { ... }   // or as @Test / @BeforeAll parameters
 * }
 * }</pre>
 *
 * <p>Asking for the registry only spawns its process; its URL accessors wait for readiness. So
 * declare the registry parameter BEFORE the cluster one and the two start in parallel. Tests that
 * break things (stop the broker, restart the registry) should start private instances with
 * {@link KafkaCluster#start()} / {@link ApicurioRegistry#start()} and close them themselves, so the
 * other tests keep a healthy shared pair. Shared resources are shared: use unique topic names and
 * subjects per test.
 */
public final class SharedInfra implements ParameterResolver {

    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(SharedInfra.class);

    @Override
    public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        Class<?> type = parameterContext.getParameter().getType();
        return type == KafkaCluster.class || type == ApicurioRegistry.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameterContext, ExtensionContext extensionContext)
            throws ParameterResolutionException {
        Class<?> type = parameterContext.getParameter().getType();
        return type == KafkaCluster.class ? kafka(extensionContext) : registry(extensionContext);
    }

    /** The shared cluster, started on first call. */
    public static KafkaCluster kafka(ExtensionContext context) {
        return store(context).getOrComputeIfAbsent(KafkaCluster.class, k -> {
            KafkaCluster cluster = KafkaCluster.start();
            System.out.printf("[tomestream-it] KRaft cluster %s started in %d ms%n",
                    cluster.bootstrapServers(), cluster.startupMillis());
            return cluster;
        }, KafkaCluster.class);
    }

    /** The shared registry, spawned on first call (not necessarily ready yet). */
    public static ApicurioRegistry registry(ExtensionContext context) {
        return store(context).getOrComputeIfAbsent(ApicurioRegistry.class, k -> ApicurioRegistry.launch(),
                ApicurioRegistry.class);
    }

    private static ExtensionContext.Store store(ExtensionContext context) {
        return context.getRoot().getStore(NAMESPACE);
    }
}
