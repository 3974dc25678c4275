package io.tomestream.serving;

import io.tomestream.classify.Outcome;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * One engine shared by every stream thread of an instance, as Triton's dynamic batcher shares a model:
 * submissions that arrive while a batch runs, or within {@code coalesceMs} of the first, are coalesced
 * into one forward pass of at most {@code maxBatch} images. Each task with a few buffered events then
 * rides in a full batch instead of paying for a small one of its own.
 *
 * <p>A submitter blocks until its own images are classified and gets their outcomes back, in order.
 * Exactly-once is therefore untouched: each stream task still forwards its results, and commits them,
 * in its own transaction; the batcher only shares the forward pass.
 *
 * <p>Before each batch the {@link BudgetController} picks its rung of the ladder; with one rung that
 * is a fixed budget.
 */
public final class EngineBatcher implements AutoCloseable {

    /** The engine: classifies a batch with a given budget and says where its time went. */
    @FunctionalInterface
    public interface Engine {
        Timed classify(List<byte[]> images, int[] rPerBlock);
    }

    /** One engine call's outcomes, with the wall time of decoding and of the forward pass. */
    public record Timed(List<Outcome> outcomes, double prepareMs, double forwardMs) {
    }

    /** A submission's outcomes, and the rung its batch ran on. */
    public record Result(List<Outcome> outcomes, Rung rung) {
    }

    /** The submitting thread was interrupted while its batch waited or ran; nothing was classified for it. */
    public static final class Interrupted extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Interrupted(InterruptedException cause) {
            super("interrupted while waiting for the engine", cause);
        }
    }

    private record Request(List<byte[]> images, long oldestEventTimeMs, CompletableFuture<Result> done) {
    }

    private final Engine engine;
    private final BudgetController controller;
    private final int maxBatch;
    private final long coalesceNanos;
    private final LongSupplier lag;
    private final Consumer<Rung> onBatch;
    private final LinkedBlockingQueue<Request> queue = new LinkedBlockingQueue<>();
    /** Images submitted and not yet taken into a batch. */
    private final AtomicLong queuedImages = new AtomicLong();
    /** Events the stream tasks hold in their buffers, not yet submitted. */
    private final AtomicLong bufferedInTasks = new AtomicLong();
    private final Thread dispatcher;
    private volatile boolean closed;
    /** A batch is in the engine. */
    private volatile boolean busy;
    /** Wall time spent in the engine, for the engine's utilisation. */
    private final AtomicLong busyNanos = new AtomicLong();

    /**
     * @param coalesceMs how long the first submission of a batch waits for others when the batch is not
     *                   full; 0 takes only what is already queued (right for a single stream thread)
     * @param lag        events not yet read from the input (consumer lag), for the controller
     * @param onBatch    told the rung of every batch, for metrics
     */
    public EngineBatcher(Engine engine, BudgetController controller, int maxBatch, long coalesceMs, LongSupplier lag,
                         Consumer<Rung> onBatch) {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be at least 1, got " + maxBatch);
        this.engine = engine;
        this.controller = controller;
        this.maxBatch = maxBatch;
        this.coalesceNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(0, coalesceMs));
        this.lag = lag;
        this.onBatch = onBatch;
        this.dispatcher = Thread.ofPlatform().daemon().name("tomestream-batcher").start(this::dispatch);
    }

    /**
     * Classifies {@code images}, coalesced with other submitters' images, and blocks until done.
     *
     * @param oldestEventTimeMs the event time of the oldest of them, for the budget controller
     * @throws RuntimeException what the engine threw for the batch these images were in
     */
    public Result classify(List<byte[]> images, long oldestEventTimeMs) {
        if (images.isEmpty()) return new Result(List.of(), controller.ladder().getFirst());
        if (closed) throw new IllegalStateException("the engine batcher is closed");
        Request r = new Request(List.copyOf(images), oldestEventTimeMs, new CompletableFuture<>());
        // Queued first, counted second: whoever sees the count sees the submission in the queue, in order.
        // The dispatcher may take it (and subtract) before the count goes up; readers clamp at 0.
        queue.add(r);
        queuedImages.addAndGet(images.size());
        try {
            return r.done().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Interrupted(e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        }
    }

    private void dispatch() {
        Request carried = null;
        while (!closed) {
            List<Request> batch = new ArrayList<>();
            int total = 0;
            try {
                Request first = carried != null ? carried : queue.take();
                carried = null;
                batch.add(first);
                total = first.images().size();
                long deadline = System.nanoTime() + coalesceNanos;
                while (total < maxBatch) {
                    long wait = deadline - System.nanoTime();
                    Request next = wait > 0 ? queue.poll(wait, TimeUnit.NANOSECONDS) : queue.poll();
                    if (next == null) break;
                    if (total + next.images().size() > maxBatch) {
                        carried = next; // heads the next batch; a submission is never split
                        break;
                    }
                    batch.add(next);
                    total += next.images().size();
                }
            } catch (InterruptedException e) {
                fail(batch, new IllegalStateException("the engine batcher is closed"));
                if (carried != null) fail(List.of(carried), new IllegalStateException("the engine batcher is closed"));
                break;
            }
            busy = true;
            queuedImages.addAndGet(-total);
            long t0 = System.nanoTime();
            try {
                run(batch, total);
            } finally {
                busyNanos.addAndGet(System.nanoTime() - t0);
                busy = false;
            }
        }
        for (Request r; (r = queue.poll()) != null; ) fail(List.of(r), new IllegalStateException("the engine batcher is closed"));
    }

    private void run(List<Request> batch, int total) {
        long oldest = Long.MAX_VALUE;
        List<byte[]> images = new ArrayList<>(total);
        for (Request r : batch) {
            oldest = Math.min(oldest, r.oldestEventTimeMs());
            images.addAll(r.images());
        }
        try {
            long backlog = Math.max(0, queuedImages.get()) + Math.max(0, bufferedInTasks.get()) + Math.max(0, lag.getAsLong());
            int index = controller.choose(total, backlog, oldest);
            Rung rung = controller.ladder().get(index);
            Timed t = engine.classify(images, rung.rPerBlock());
            if (t.outcomes() == null || t.outcomes().size() != total) {
                throw new IllegalStateException("the engine returned " + (t.outcomes() == null ? "no" : t.outcomes().size())
                        + " outcomes for " + total + " images");
            }
            controller.costs().observe(index, total, t.prepareMs(), t.forwardMs());
            onBatch.accept(rung);
            int from = 0;
            for (Request r : batch) {
                int n = r.images().size();
                r.done().complete(new Result(List.copyOf(t.outcomes().subList(from, from + n)), rung));
                from += n;
            }
        } catch (Throwable e) {
            // Even an Error goes back to the submitters: a dead dispatcher would leave every stream thread waiting forever.
            fail(batch, e);
        }
    }

    private static void fail(List<Request> batch, Throwable e) {
        for (Request r : batch) r.done().completeExceptionally(e);
    }

    /** Stream tasks buffered (or submitted) {@code delta} events: they count as backlog until submitted. */
    public void buffered(int delta) {
        bufferedInTasks.addAndGet(delta);
    }

    /** Images submitted and not yet in a running batch. */
    long queuedImages() {
        return Math.max(0, queuedImages.get());
    }

    boolean busy() {
        return busy;
    }

    /** Seconds the engine has spent on batches since start: its utilisation is the rate of this. */
    public double busySeconds() {
        return busyNanos.get() / 1e9;
    }

    public BudgetController controller() {
        return controller;
    }

    /** Fails what is still queued; a batch already running finishes first. */
    @Override
    public void close() {
        closed = true;
        dispatcher.interrupt();
    }
}
