package io.tomestream.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Keystores made at test time with the JDK's keytool, none committed: a CA, a server certificate it
 * signed for localhost and 127.0.0.1 (the broker's and the registry's), a client certificate it signed
 * (the mTLS identity, {@code CN=tomestream-mtls}), a truststore holding the CA, and a second
 * truststore holding an unrelated CA, which trusts none of them. All PKCS12, one random password.
 */
final class Certificates {
    static final String CLIENT_CN = "tomestream-mtls";

    final Path dir;
    final String password = "store-" + UUID.randomUUID();
    final Path server, client, truststore, untrustedTruststore;

    private Certificates(Path dir) {
        this.dir = dir;
        server = dir.resolve("server.p12");
        client = dir.resolve("client.p12");
        truststore = dir.resolve("truststore.p12");
        untrustedTruststore = dir.resolve("untrusted-truststore.p12");
    }

    static Certificates generate(Path dir) {
        Certificates c = new Certificates(dir);
        try {
            Files.createDirectories(dir);
            try (var old = Files.list(dir)) {
                for (Path p : old.toList()) Files.delete(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        c.authority("ca", "CN=tomestream-test-ca");
        c.signed("server", "CN=localhost", "SAN=dns:localhost,ip:127.0.0.1");
        c.signed("client", "CN=" + CLIENT_CN, null); // signed() leaves the CA's certificate in ca.crt
        c.keytool("-importcert", "-noprompt", "-alias", "ca", "-file", "ca.crt", "-keystore", "truststore.p12");
        c.authority("other-ca", "CN=some-other-ca");
        c.keytool("-exportcert", "-rfc", "-alias", "other-ca", "-keystore", "other-ca.p12", "-file", "other-ca.crt");
        c.keytool("-importcert", "-noprompt", "-alias", "other-ca", "-file", "other-ca.crt", "-keystore", "untrusted-truststore.p12");
        return c;
    }

    /** A context that trusts the CA, for the tests' own HTTPS calls. */
    SSLContext trustingContext() {
        try (InputStream in = Files.newInputStream(truststore)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password.toCharArray());
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private void authority(String alias, String dname) {
        keytool("-genkeypair", "-alias", alias, "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", dname, "-ext", "bc:c", "-keystore", alias + ".p12");
    }

    /** A key pair in NAME.p12 whose certificate the CA signed, stored with the chain (CA first imported). */
    private void signed(String name, String dname, String san) {
        String store = name + ".p12";
        keytool("-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", dname, "-keystore", store);
        keytool("-certreq", "-alias", name, "-keystore", store, "-file", name + ".csr");
        List<String> sign = new ArrayList<>(List.of("-gencert", "-alias", "ca", "-keystore", "ca.p12", "-validity", "2",
                "-infile", name + ".csr", "-outfile", name + ".crt", "-rfc"));
        if (san != null) sign.addAll(List.of("-ext", san));
        keytool(sign.toArray(String[]::new));
        keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", "ca.p12", "-file", "ca.crt");
        keytool("-importcert", "-noprompt", "-alias", "ca", "-file", "ca.crt", "-keystore", store);
        keytool("-importcert", "-alias", name, "-file", name + ".crt", "-keystore", store);
    }

    private void keytool(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("-storetype", "PKCS12", "-storepass", password));
        if (List.of(args).contains("-genkeypair")) cmd.addAll(List.of("-keypass", password));
        try {
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("keytool " + String.join(" ", args) + " failed: " + out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
